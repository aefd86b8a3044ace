namespace GpuCheck;

/// <summary>Prints PASS/FAIL lines and counts them; the exit code is the number of failures.</summary>
internal sealed class Report
{
    public int Passed { get; private set; }
    public int Failed { get; private set; }

    public void Check(string name, bool ok, string detail)
    {
        if (ok) Passed++; else Failed++;
        Console.WriteLine($"{(ok ? "PASS" : "FAIL")} {name}: {detail}");
    }

    public void Run(string name, Action body)
    {
        try { body(); }
        catch (Exception e)
        {
            Failed++;
            Console.WriteLine($"FAIL {name}: {e.GetType().Name}: {e.Message}");
        }
    }
}
