using PagedAttention.Samples.SemanticKernel;

// Semantic Kernel over one in-process engine: a kernel with a plugin and FunctionChoiceBehavior.Auto(), and several
// chat histories that share the same long instructions, answered concurrently.
return await SemanticKernelSample.RunAsync(args, Console.Out);
