"""Word lists of the synthetic agent corpus. Every list that names an entity, a tool or a schema field is split
into a train part and a held-out (test) part that never meets the training data."""

# (train, test) pairs: the test words never appear in generated training conversations.
FIRST_NAMES = (
    ["Maria", "James", "Anna", "Peter", "Laura", "David", "Sofia", "Thomas", "Elena", "Robert", "Julia", "Daniel",
     "Clara", "Martin", "Nora", "Samuel", "Irene", "Victor", "Hannah", "Oscar", "Alice", "Henry", "Rosa", "Felix",
     "Grace", "Lucas", "Emma", "Jacob", "Olivia", "Adam", "Mia", "Paul", "Lena", "Simon", "Eva", "Hugo", "Ruth",
     "Leo", "Ines", "Carl", "Diana", "Tobias", "Sara", "Kevin", "Helen", "Marco", "Linda", "Ivan", "Chloe", "Omar"],
    ["Beatrix", "Quentin", "Yara", "Ezra", "Matilda", "Rufus", "Zelda", "Anselm", "Odette", "Caspar", "Priya",
     "Dmitri", "Wanda", "Horatio", "Ximena", "Ulrich"],
)
LAST_NAMES = (
    ["Lopez", "Smith", "Novak", "Keller", "Brown", "Rossi", "Meyer", "Garcia", "Walker", "Fischer", "Moreau", "Silva",
     "Turner", "Bauer", "Larsen", "Costa", "Wright", "Hoffman", "Dubois", "Young", "King", "Ortega", "Baker", "Weber",
     "Nilsson", "Clarke", "Romano", "Hughes", "Schmidt", "Price", "Santos", "Foster", "Berg", "Hall", "Ward", "Kim",
     "Patel", "Reyes", "Murphy", "Lang", "Stone", "Cole", "Fox", "Nash", "Reed", "Lowe", "Dunn", "Hart", "Page"],
    ["Abernathy", "Quigley", "Zoltan", "Okonkwo", "Vasquez", "Thistlewood", "Marchetti", "Yilmaz", "Haverford",
     "Prendergast", "Ishikawa", "Castellano"],
)
CITIES = (
    ["Paris", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Lisbon", "Dublin", "Oslo", "Warsaw", "Boston",
     "Chicago", "Denver", "Seattle", "Austin", "Toronto", "Sydney", "Tokyo", "Seoul", "Cairo", "Lima", "Quito",
     "Athens", "Munich", "Milan", "Zurich", "Geneva", "Porto", "Lyon", "Hamburg", "Dallas", "Miami", "Phoenix",
     "Houston", "Atlanta", "Montreal", "Nairobi", "Delhi", "Mumbai", "Bangkok", "Manila", "Jakarta", "Helsinki"],
    ["Reykjavik", "Tbilisi", "Ljubljana", "Valparaiso", "Windhoek", "Ulaanbaatar", "Tallinn", "Asuncion", "Kigali",
     "Bratislava", "Cartagena", "Tromso"],
)
COMPANIES = (
    ["Northwind", "Acme", "Bluebird", "Summit", "Redwood", "Harbor", "Pinecrest", "Silverline", "Brightway", "Oakridge",
     "Lakeside", "Ironwood", "Sunfield", "Greenleaf", "Starlight", "Riverside", "Westgate", "Clearview"],
    ["Zephyrine", "Quartzmoor", "Vellichor", "Obsidia", "Kestrelworks"],
)
PRODUCT_ADJ = (
    ["Copper", "Classic", "Compact", "Deluxe", "Silver", "Golden", "Bamboo", "Steel", "Wooden", "Glass", "Leather",
     "Ceramic", "Cotton", "Wireless", "Portable", "Folding", "Electric", "Vintage", "Modern", "Rustic", "Marble",
     "Velvet", "Nordic", "Solar", "Travel", "Mini", "Large", "Smart", "Heavy", "Soft"],
    ["Obsidian", "Saffron", "Titanium", "Cobalt", "Mahogany", "Pewter", "Tungsten", "Onyx"],
)
PRODUCT_NOUN = (
    ["Lamp", "Kettle", "Chair", "Desk", "Mug", "Backpack", "Blender", "Toaster", "Jacket", "Clock", "Speaker",
     "Notebook", "Pillow", "Blanket", "Bottle", "Helmet", "Camera", "Keyboard", "Monitor", "Umbrella", "Wallet",
     "Teapot", "Mirror", "Vase", "Stool", "Shelf", "Rug", "Fan", "Heater", "Scale", "Tripod", "Radio", "Basket",
     "Candle", "Skillet", "Glove", "Scarf", "Tent", "Lantern", "Drill"],
    ["Samovar", "Hammock", "Metronome", "Gramophone", "Sextant", "Easel", "Bellows", "Kayak", "Telescope"],
)
CATEGORIES = (
    ["kitchen", "lighting", "furniture", "outdoor", "electronics", "clothing", "office", "bedding", "tools", "travel"],
    ["horology", "marine", "apiary", "stationery"],
)
COLORS = (["red", "blue", "green", "black", "white", "gray", "yellow", "brown", "orange", "pink"],
          ["teal", "maroon", "ochre", "lilac"])
ROLES = (
    ["engineer", "designer", "accountant", "sales manager", "support agent", "recruiter", "data analyst", "lawyer",
     "office manager", "product manager", "nurse", "teacher", "chef", "electrician", "editor", "translator"],
    ["cartographer", "actuary", "sommelier", "archivist", "geologist"],
)
DEPARTMENTS = (["Finance", "Marketing", "Sales", "Support", "Research", "Legal", "Operations", "Design"],
               ["Procurement", "Logistics", "Compliance"])
ORDER_STATUS = (["shipped", "pending", "delivered", "cancelled", "processing", "on hold"],
                ["returned", "backordered"])
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

# Tool objects: (noun phrase, snake name, id prefix). Test objects are never used in training tools.
TOOL_OBJECTS = (
    [("order", "order", "ORD"), ("invoice", "invoice", "INV"), ("shipment", "shipment", "SHP"),
     ("flight", "flight", "FL"), ("hotel booking", "hotel_booking", "HB"), ("parcel", "parcel", "PCL"),
     ("support ticket", "ticket", "TCK"), ("account", "account", "ACC"), ("subscription", "subscription", "SUB"),
     ("meeting", "meeting", "MTG"), ("recipe", "recipe", "RCP"), ("song", "song", "SNG"), ("movie", "movie", "MOV"),
     ("book", "book", "BK"), ("car rental", "car_rental", "CR"), ("appointment", "appointment", "APT"),
     ("payment", "payment", "PAY"), ("warehouse", "warehouse", "WH"), ("employee", "employee", "EMP"),
     ("customer", "customer", "CUS"), ("device", "device", "DEV"), ("server", "server", "SRV"),
     ("repository", "repository", "REPO"), ("contract", "contract", "CTR"), ("package", "package", "PKG"),
     ("reservation", "reservation", "RES"), ("course", "course", "CRS"), ("patient", "patient", "PT"),
     ("vehicle", "vehicle", "VEH"), ("project", "project", "PRJ"), ("product", "product", "SKU"),
     ("refund", "refund", "RF"), ("loan", "loan", "LN"), ("policy", "policy", "POL"), ("claim", "claim", "CLM"),
     ("room", "room", "RM"), ("event", "event", "EVT"), ("report", "report", "RPT"), ("train", "train", "TR"),
     ("playlist", "playlist", "PL"), ("document", "document", "DOC"), ("task", "task", "TSK"),
     ("user", "user", "USR"), ("store", "store", "ST"), ("budget", "budget", "BGT"), ("lesson", "lesson", "LSN")],
    [("voyage", "voyage", "VOY"), ("greenhouse", "greenhouse", "GH"), ("telescope slot", "telescope_slot", "TS"),
     ("vineyard lot", "vineyard_lot", "VL"), ("drone", "drone", "DRN"), ("locker", "locker", "LKR"),
     ("harvest", "harvest", "HV"), ("tournament", "tournament", "TRN"), ("satellite", "satellite", "SAT"),
     ("aquarium tank", "aquarium_tank", "AQ"), ("gallery piece", "gallery_piece", "GP"), ("ferry", "ferry", "FRY")],
)
# Attribute words for read tools' results and for extra parameters.
RESULT_FIELDS = (
    ["status", "owner", "price", "total", "date", "location", "count", "balance", "score", "duration", "rating",
     "priority", "stage", "city", "amount", "level", "name", "color", "size", "weight"],
    ["altitude", "vintage", "salinity", "bearing", "wattage", "payload"],
)
STATUS_WORDS = (["open", "closed", "active", "paid", "late", "on time", "in transit", "approved", "rejected", "ready"],
                ["dormant", "quarantined", "moored"])

# Read verbs: (name stem, request phrasings). {obj} = noun phrase, {id} = identifier.
READ_VERBS = (
    [("get", ["Get the {obj} {id}.", "Can you get {obj} {id}?", "Show me {obj} {id}.", "I need the details of {obj} {id}."]),
     ("lookup", ["Look up {obj} {id}.", "Please look up the {obj} {id}.", "Can you look up {obj} {id} for me?"]),
     ("check", ["Check {obj} {id}.", "Could you check the {obj} {id}?", "What is the state of {obj} {id}?"]),
     ("fetch", ["Fetch {obj} {id}.", "Please fetch the {obj} with id {id}."]),
     ("find", ["Find {obj} {id}.", "Can you find the {obj} {id}?"])],
    [("inspect", ["Inspect {obj} {id}.", "Could you inspect the {obj} {id}?"]),
     ("query", ["Query {obj} {id}.", "Please query the {obj} {id}."])],
)
# Action verbs with a second argument: (stem, past participle, request phrasing with {obj} {id} {arg}).
ACTION_VERBS = (
    [("cancel", "cancelled", "Cancel {obj} {id} because {reason}.", "reason"),
     ("update", "updated", "Update {obj} {id} with the note \"{note}\".", "note"),
     ("assign", "assigned", "Assign {obj} {id} to {person}.", "assignee"),
     ("move", "moved", "Move {obj} {id} to {city}.", "destination"),
     ("rename", "renamed", "Rename {obj} {id} to \"{title}\".", "new_name"),
     ("schedule", "scheduled", "Schedule {obj} {id} for {date}.", "date"),
     ("approve", "approved", "Approve {obj} {id} with priority {priority}.", "priority")],
    [("archive", "archived", "Archive {obj} {id} with the label \"{note}\".", "label"),
     ("transfer", "transferred", "Transfer {obj} {id} to {person}.", "recipient")],
)
REASONS = (["it is no longer needed", "the date changed", "it was a duplicate", "the customer asked", "of a billing error"],
           ["the budget was frozen", "the venue flooded"])
NOTES = (["call back tomorrow", "urgent", "waiting for review", "send a copy", "checked twice", "handled by phone"],
         ["verify the seal", "keep it dry"])
TITLES = (["Spring Plan", "Team Notes", "Final Draft", "Budget Review", "Weekly Sync", "Launch Day"],
          ["Harvest Moon", "Deep Survey"])
PRIORITIES = (["low", "normal", "high"], ["critical", "minimal"])

GREETINGS = [
    ("Hello!", "Hello! How can I help you today?"),
    ("Hi there.", "Hi! What can I do for you?"),
    ("Good morning.", "Good morning! How can I help?"),
    ("Thanks, that is all.", "You're welcome. Have a good day!"),
    ("Thank you!", "You're welcome!"),
    ("Who are you?", "I am a small assistant. I can answer questions about the document and use the tools I am given."),
    ("What can you do?", "I can answer questions from the document and call the tools I have when a request needs them."),
    ("Goodbye.", "Goodbye! Have a nice day."),
    ("How are you?", "I am fine, thank you. How can I help you?"),
    ("Can you help me?", "Yes. What do you need?"),
]
GENERAL_SYSTEMS = [None, None, "You are a helpful assistant.", "You are a concise assistant.",
                   "You are a helpful assistant. Use the tools when a request needs them.",
                   "You are an assistant for a small company."]
