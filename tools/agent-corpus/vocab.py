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

# Tool names are never made from the request's words alone (run 3's model composed names from the request instead
# of copying them from the tool list): a read / action / list tool's realistic name uses a *name* verb drawn
# independently of the request's phrasing, and half the names are made-up words (agentgen.name_words). The request
# phrasings below are shared by both splits and hold no held-out word; the name verbs are split.
READ_NAME_VERBS = (["get", "fetch", "lookup", "check", "find", "read", "show", "retrieve", "describe", "load", "view"],
                   ["inspect", "query", "probe", "examine"])
READ_NAME_SUFFIXES = (["info", "details", "record", "status"], ["dossier", "readout"])
READ_REQUESTS = ["Get the {obj} {id}.", "Can you get {obj} {id}?", "Show me {obj} {id}.", "I need the details of {obj} {id}.",
                 "Look up {obj} {id}.", "Please look up the {obj} {id}.", "Can you look up {obj} {id} for me?",
                 "Check {obj} {id}.", "Could you check the {obj} {id}?", "What is the state of {obj} {id}?",
                 "Fetch {obj} {id}.", "Please fetch the {obj} with id {id}.", "Find {obj} {id}.",
                 "Can you find the {obj} {id}?", "Tell me about {obj} {id}.", "What do you have on the {obj} {id}?"]
READ_DESCRIPTIONS = ["Returns the details of a {p}.", "Looks up a {p} by its id.", "Details of one {p}, by id.",
                     "Current state of a {p}.", "Gets one {p} record."]
# Actions with a second argument: (name stems, past participle, request phrasings with {obj} {id} and one value key,
# argument names, descriptions with {p} = the object's noun phrase).
ACTION_VERBS = (
    [(["cancel", "void", "revoke"], "cancelled",
      ["Cancel {obj} {id} because {reason}.", "Please call off the {obj} {id}, because {reason}."],
      ["reason", "why", "cause"], ["Cancels a {p}.", "Calls off a {p} and records why."]),
     (["update", "annotate", "add_note"], "updated",
      ["Update {obj} {id} with the note \"{note}\".", "Add the note \"{note}\" to {obj} {id}."],
      ["note", "comment", "text"], ["Adds a note to a {p}.", "Updates a {p} with a note."]),
     (["assign", "delegate", "set_owner"], "assigned",
      ["Assign {obj} {id} to {person}.", "Make {person} responsible for the {obj} {id}."],
      ["assignee", "person", "owner"], ["Assigns a {p} to a person.", "Sets who handles a {p}."]),
     (["move", "relocate"], "moved", ["Move {obj} {id} to {city}.", "Send the {obj} {id} over to {city}."],
      ["destination", "city", "target_city"], ["Moves a {p} to another city.", "Relocates a {p}."]),
     (["rename", "retitle"], "renamed",
      ["Rename {obj} {id} to \"{title}\".", "Change the name of {obj} {id} to \"{title}\"."],
      ["new_name", "title", "name"], ["Renames a {p}.", "Gives a {p} a new name."]),
     (["schedule", "book", "plan"], "scheduled", ["Schedule {obj} {id} for {date}.", "Book the {obj} {id} on {date}."],
      ["date", "when", "day"], ["Schedules a {p} for a date.", "Sets the date of a {p}."]),
     (["approve", "accept", "sign_off"], "approved",
      ["Approve {obj} {id} with priority {priority}.", "Give the {obj} {id} the go-ahead, priority {priority}."],
      ["priority", "level"], ["Approves a {p} with a priority.", "Signs off a {p} with a priority."])],
    [(["archive", "shelve"], "archived",
      ["Archive {obj} {id} with the label \"{note}\".", "Put the {obj} {id} away with the label \"{note}\"."],
      ["label", "tag"], ["Archives a {p} under a label.", "Stores a {p} away with a label."]),
     (["transfer", "handover"], "transferred",
      ["Transfer {obj} {id} to {person}.", "Hand the {obj} {id} over to {person}."],
      ["recipient", "new_holder"], ["Transfers a {p} to a person.", "Hands a {p} over to someone."])],
)
LIST_NAME_VERBS = (["list", "search", "browse", "find_all", "list_all"], ["enumerate", "scan"])
LIST_REQUESTS = ["Find up to {n} {plural} in {c}.", "Show me {n} {plural} in {c}.", "List {n} {plural} in {c}.",
                 "Give me {n} {plural} near {c}."]
LIST_DESCRIPTIONS = ["Finds {plural} near a location.", "Lists the {plural} in a city.", "Searches {plural} by city."]
# Verbs of the realistic names of the weather / currency / time tools (the held-out split's are its read verbs).
WEATHER_NAMES = ([["get", "weather"], ["fetch", "weather"], ["check", "weather"], ["current", "weather"],
                  ["weather", "now"], ["weather", "lookup"]], [["inspect", "weather"], ["probe", "weather"]])
CURRENCY_NAMES = ([["convert", "currency"], ["exchange", "currency"], ["fx", "convert"], ["money", "convert"]],
                  [["query", "currency"], ["examine", "rates"]])
TIME_NAMES = ([["get", "time"], ["current", "time"], ["local", "time"], ["clock", "lookup"]],
              [["query", "time"], ["probe", "clock"]])
# Second words of made-up names (zorvik_lookup): shared, never enough on their own to pick a tool.
NAME_SUFFIXES = ["lookup", "tool", "api", "service", "handler", "op", "fn", "v2", "run", "call"]
GENERIC_NAME_VERBS = (["get", "do", "run", "call"], ["inspect", "query"])
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
