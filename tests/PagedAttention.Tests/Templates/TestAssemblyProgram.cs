namespace PagedAttention.Tests.Templates;

/// <summary>
/// The test assembly's entry point (GenerateProgramFile is off): the test runner never calls it, and
/// <c>dotnet exec PagedAttention.Tests.dll --template-fuzz-child</c> runs the crash-prone fuzz cases in a child process.
/// </summary>
public static class TestAssemblyProgram
{
    /// <summary>Runs the template fuzz child when asked; otherwise does nothing.</summary>
    public static int Main(string[] args) =>
        args.Length > 0 && args[0] == TemplateFuzzTests.ChildSwitch ? TemplateFuzzTests.RunChild() : 0;
}
