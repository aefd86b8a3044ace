using System.Reflection;
using System.Reflection.Emit;
using PagedAttention.AI.Engine;
using PagedAttention.Kernels;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Architecture;

/// <summary>
/// Keeps the folder arrows of docs/architecture.md true: every type of the AI assembly is scanned — base type,
/// interfaces, fields, properties, method signatures, locals, and every type, method and field token in its IL — and
/// each reference to a type of another folder (or of the Text or Kernels assembly) must be an allowed arrow.
/// </summary>
public class DependencyTests
{
    /// <summary>
    /// What each folder of src/PagedAttention.AI may use ("" is the project root: the client and DI, which compose
    /// everything). "Text" and "Kernels" are the other projects. A folder missing here may use nothing.
    /// </summary>
    internal static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Requests"] = [],
        ["KvCache"] = [],
        ["Sampling"] = ["Requests"],
        ["Scheduling"] = ["KvCache", "Requests"],
        ["Constraints"] = ["Text"],
        ["Models"] = ["Sampling", "Kernels"],
        ["Engine"] = ["Scheduling", "KvCache", "Models", "Sampling", "Requests", "Text", "Kernels", "Observability"],
        ["Observability"] = [],
        ["Chat"] = ["Engine", "Models", "Sampling", "Requests", "Text", "Constraints"],
        ["Tokenization"] = ["Text"],
        [""] = ["Chat", "Engine", "Models", "Sampling", "Requests", "Text"],
    };

    private static readonly Assembly Ai = typeof(LlmEngine).Assembly;

    [Fact]
    public void AiFolders_ReferenceOnlyAllowedFolders()
    {
        var violations = Edges(Ai)
            .Where(e => !Allowed.TryGetValue(e.From, out var ok) || !ok.Contains(e.To))
            .Select(e => $"{Show(e.From)} -> {e.To}: {e.Example}")
            .Distinct().Order().ToList();
        Assert.True(violations.Count == 0, "Forbidden references:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void AllowedArrows_HaveNoCycle()
    {
        var state = new Dictionary<string, int>();
        bool Visit(string f)
        {
            if (state.TryGetValue(f, out int s)) return s == 2;
            state[f] = 1;
            foreach (var to in Allowed.GetValueOrDefault(f, [])) if (!Visit(to)) return false;
            state[f] = 2;
            return true;
        }
        Assert.All(Allowed.Keys, f => Assert.True(Visit(f), $"cycle through {Show(f)}"));
    }

    [Fact]
    public void Scanner_SeesSignatureAndBodyReferences()
    {
        // Guards the scan itself: if it found nothing, the arrow test would pass for any code.
        var edges = Edges(Ai).Select(e => (e.From, e.To)).ToHashSet();
        Assert.Contains(("Scheduling", "KvCache"), edges);   // a field type (Scheduler.Kv)
        Assert.Contains(("Engine", "Scheduling"), edges);
        Assert.Contains(("Chat", "Engine"), edges);
        Assert.Contains(("Models", "Kernels"), edges);
        Assert.Contains(("Sampling", "Requests"), edges);    // StopChecker returns FinishReason
        Assert.Contains(("Engine", "Text"), edges);          // EngineLoader calls Tokenizer.FromFile (a method body)
    }

    [Fact]
    public void TextAndKernels_ReferenceNoOtherProjectOfTheSolution()
    {
        string[] ours = ["PagedAttention.AI", "PagedAttention.Kernels", "PagedAttention.Text"];
        Assert.DoesNotContain(typeof(Tokenizer).Assembly.GetReferencedAssemblies(), a => ours.Contains(a.Name));
        Assert.DoesNotContain(typeof(DType).Assembly.GetReferencedAssemblies(), a => ours.Contains(a.Name));
    }

    [Fact]
    public void OnlyTheSemanticKernelProject_ReferencesSemanticKernel()
    {
        // Users of the engine who do not use SK must not pay for it: SK stays out of the core assemblies' references.
        foreach (var asm in new[] { Ai, typeof(Tokenizer).Assembly, typeof(DType).Assembly })
            Assert.DoesNotContain(asm.GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.SemanticKernel", StringComparison.Ordinal));
        var sk = typeof(Microsoft.SemanticKernel.PagedAttentionKernelBuilderExtensions).Assembly.GetReferencedAssemblies();
        Assert.Contains(sk, a => a.Name == "Microsoft.SemanticKernel.Abstractions");
        Assert.Contains(sk, a => a.Name == "PagedAttention.AI");
    }

    private static string Show(string folder) => folder.Length == 0 ? "(root)" : folder;

    private readonly record struct Edge(string From, string To, string Example);

    /// <summary>Folder of a type: the first namespace part below PagedAttention.AI, or "Text"/"Kernels"; null for anything else.</summary>
    private static string? FolderOf(Type t)
    {
        while (t.HasElementType) t = t.GetElementType()!;
        if (t.IsGenericParameter) return null;
        string ns = t.Namespace ?? "";
        if (t.Assembly == Ai)
        {
            if (ns == "PagedAttention.AI") return "";
            return ns.StartsWith("PagedAttention.AI.", StringComparison.Ordinal) ? ns["PagedAttention.AI.".Length..].Split('.')[0] : null;
        }
        if (ns.StartsWith("PagedAttention.Text", StringComparison.Ordinal)) return "Text";
        if (ns.StartsWith("PagedAttention.Kernels", StringComparison.Ordinal)) return "Kernels";
        return null;
    }

    private static IEnumerable<Type> Expand(Type t)
    {
        while (t.HasElementType) t = t.GetElementType()!;
        yield return t;
        if (t.IsGenericType && !t.IsGenericTypeDefinition)
            foreach (var a in t.GetGenericArguments())
                foreach (var x in Expand(a)) yield return x;
    }

    private static IEnumerable<Edge> Edges(Assembly asm)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in asm.GetTypes())
        {
            string? from = FolderOf(type);
            if (from is null) continue; // <PrivateImplementationDetails> and the like
            var refs = new List<(Type T, string Where)>();
            void Add(Type? t, string where) { if (t is not null) foreach (var x in Expand(t)) refs.Add((x, where)); }
            Add(type.BaseType, "base type");
            foreach (var i in type.GetInterfaces()) Add(i, "interface");
            foreach (var f in type.GetFields(all)) Add(f.FieldType, $"field {f.Name}");
            foreach (var p in type.GetProperties(all)) Add(p.PropertyType, $"property {p.Name}");
            foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                if (m is MethodInfo mi) Add(mi.ReturnType, $"{m.Name} return");
                foreach (var p in m.GetParameters()) Add(p.ParameterType, $"{m.Name} parameter");
                var body = m.GetMethodBody();
                if (body is null) continue;
                foreach (var l in body.LocalVariables) Add(l.LocalType, $"{m.Name} local");
                foreach (var t in BodyReferences(m, body)) Add(t, $"{m.Name} body");
            }
            foreach (var (t, where) in refs)
            {
                string? to = FolderOf(t);
                if (to is not null && to != from) yield return new Edge(from, to, $"{type.FullName} {where} uses {t.FullName}");
            }
        }
    }

    private static readonly OpCode[] OneByte = new OpCode[256], TwoByte = new OpCode[256];

    static DependencyTests()
    {
        foreach (var f in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)f.GetValue(null)!;
            ushort v = (ushort)op.Value;
            if (op.Size == 1) OneByte[v] = op;
            else TwoByte[v & 0xFF] = op;
        }
    }

    /// <summary>Types named by the type, method and field tokens of a method body (declaring types and generic arguments).</summary>
    private static IEnumerable<Type> BodyReferences(MethodBase m, MethodBody body)
    {
        var il = body.GetILAsByteArray() ?? [];
        var module = m.Module;
        Type[]? typeArgs = m.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArgs = m.IsGenericMethod ? m.GetGenericArguments() : null;
        var found = new List<Type>();
        for (int i = 0; i < il.Length;)
        {
            OpCode op = il[i] == 0xFE ? TwoByte[il[i + 1]] : OneByte[il[i]];
            i += op.Size;
            switch (op.OperandType)
            {
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                    int token = BitConverter.ToInt32(il, i);
                    var member = module.ResolveMember(token, typeArgs, methodArgs);
                    switch (member)
                    {
                        case Type t: found.Add(t); break;
                        case MethodBase mb:
                            if (mb.DeclaringType is { } dt) found.Add(dt);
                            if (mb.IsGenericMethod) found.AddRange(mb.GetGenericArguments());
                            break;
                        case FieldInfo fi:
                            if (fi.DeclaringType is { } ft) found.Add(ft);
                            found.Add(fi.FieldType);
                            break;
                    }
                    i += 4;
                    break;
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: i += 1; break;
                case OperandType.InlineVar: i += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: i += 8; break;
                case OperandType.InlineSwitch: i += 4 + 4 * BitConverter.ToInt32(il, i); break;
                default: i += 4; break; // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
            }
        }
        return found;
    }
}
