using System.ComponentModel;
using Microsoft.Extensions.AI;

namespace PagedAttention.Samples.Agents;

/// <summary>
/// The C# functions the agents may call (through <c>UseFunctionInvocation()</c>): deterministic stand-ins for real
/// services, so a run is reproducible and an answer can be checked against the function's result.
/// </summary>
internal static class AgentTools
{
    private static readonly string[] Skies = ["sunny", "cloudy", "rainy", "windy", "clear", "snowy"];
    private static readonly Dictionary<string, double> PerUsd = new(StringComparer.OrdinalIgnoreCase)
    {
        ["USD"] = 1.0, ["EUR"] = 0.92, ["GBP"] = 0.79, ["JPY"] = 151.0, ["CHF"] = 0.88, ["CAD"] = 1.36, ["AUD"] = 1.52, ["SEK"] = 10.4,
    };

    /// <summary>Every tool, in the order the model sees them.</summary>
    public static IList<AITool> All { get; } =
    [
        AIFunctionFactory.Create(GetWeather, "get_weather", "Get the current weather for a city."),
        AIFunctionFactory.Create(ConvertCurrency, "convert_currency", "Convert an amount between currencies."),
        AIFunctionFactory.Create(GetTime, "get_time", "Get the local time in a city."),
        AIFunctionFactory.Create(LookupShipment, "lookup_shipment", "Look up a shipment."),
    ];

    // A stable hash (string.GetHashCode differs from run to run).
    private static int Stable(string s)
    {
        uint h = 2166136261;
        foreach (char c in s.ToUpperInvariant()) h = (h ^ c) * 16777619;
        return (int)(h & 0x7fffffff);
    }

    private static object GetWeather([Description("The city")] string city)
    {
        int h = Stable(city);
        return new { temperature = h % 35 - 5, sky = Skies[h / 35 % Skies.Length] };
    }

    private static object ConvertCurrency(double amount, [Description("ISO code, like USD")] string from_currency, [Description("ISO code, like EUR")] string to_currency)
    {
        if (!PerUsd.TryGetValue(from_currency, out double from) || !PerUsd.TryGetValue(to_currency, out double to))
            return new { error = "unknown currency" };
        return new { result = Math.Round(amount / from * to, 2) };
    }

    private static string GetTime([Description("A city")] string city)
    {
        int h = Stable(city);
        return $"{h % 24:D2}:{h / 24 % 4 * 15:D2}";
    }

    private static object LookupShipment([Description("The shipment id")] string shipment_id)
    {
        int h = Stable(shipment_id);
        return new { status = h % 2 == 0 ? "in transit" : "delivered", city = new[] { "Berlin", "Madrid", "Boston", "Toronto" }[h / 2 % 4] };
    }
}
