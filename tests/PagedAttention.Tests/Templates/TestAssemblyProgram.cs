namespace PagedAttention.Tests.Templates;

/// <summary>
/// The test assembly's entry point (GenerateProgramFile is off): the test runner never calls it, and
/// <c>dotnet exec PagedAttention.Tests.dll --template-fuzz-child</c> (or <c>--load-crash-child</c>) runs the crash-prone cases in a child process.
/// </summary>
public static class TestAssemblyProgram
{
    /// <summary>Runs the template fuzz child when asked; otherwise does nothing.</summary>
    public static int Main(string[] args) => args.Length == 0 ? 0 : args[0] switch
    {
        TemplateFuzzTests.ChildSwitch => TemplateFuzzTests.RunChild(),
        Loading.LoadCrashTests.ChildSwitch => Loading.LoadCrashTests.RunChild(),
        _ => 0,
    };
}
