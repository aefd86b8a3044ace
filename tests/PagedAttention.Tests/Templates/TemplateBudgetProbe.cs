using System.Diagnostics;
using PagedAttention.Text.Templates;

namespace PagedAttention.Tests.Templates;

/// <summary>Renders every real model template with every golden context and reports the largest budget use.</summary>
internal static class TemplateBudgetProbe
{
    public sealed record Usage(string Worst, long Output, long Allocated, long Iterations, TimeSpan Time)
    {
        public override string ToString() =>
            $"largest: {Worst}; output {Output:N0} chars, allocated {Allocated:N0} units, {Iterations:N0} iterations, {Time.TotalMilliseconds:0.###} ms";
    }

    public static Usage MeasureLargest()
    {
        long output = 0, allocated = 0, iterations = 0;
        var time = TimeSpan.Zero;
        string worst = "";
        var contexts = TemplateTestData.Load("contexts.json").AsObject();
        foreach (var file in Directory.GetFiles(Path.Combine(TemplateTestData.Dir, "sources"), "*.jinja"))
        {
            string name = Path.GetFileNameWithoutExtension(file);
            var golden = TemplateTestData.Load(Path.Combine("goldens", name + ".json"));
            var template = ChatTemplate.Parse(File.ReadAllText(file));
            foreach (var (ctxName, ctxNode) in contexts)
            {
                var ctx = ctxNode!.DeepClone().AsObject();
                ctx["bos_token"] = golden["bos_token"]!.GetValue<string>();
                ctx["eos_token"] = golden["eos_token"]!.GetValue<string>();
                try
                {
                    var sw = Stopwatch.StartNew();
                    string text = template.Render(ctx, TemplateTestData.Clock, out long a, out long i);
                    sw.Stop();
                    if (a > allocated) { allocated = a; worst = $"{name}/{ctxName}"; }
                    output = Math.Max(output, text.Length);
                    iterations = Math.Max(iterations, i);
                    if (sw.Elapsed > time) time = sw.Elapsed;
                }
                catch (TemplateException)
                {
                    // Some contexts are rejected by some templates (raise_exception), as in the goldens.
                }
            }
        }
        return new Usage(worst, output, allocated, iterations, time);
    }
}
