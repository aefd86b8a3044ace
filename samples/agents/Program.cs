Console.WriteLine("PagedAttention.AI sample: under construction.");
