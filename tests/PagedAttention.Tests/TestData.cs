namespace PagedAttention.Tests;

internal static class TestData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Data");

    public static string Model(string name) => Path.Combine(Root, "models", name);
}
