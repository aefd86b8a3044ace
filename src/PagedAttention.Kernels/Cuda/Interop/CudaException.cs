namespace PagedAttention.Kernels.Cuda.Interop;

/// <summary>
/// A failed CUDA driver, NVRTC or cuBLAS call, or a missing CUDA library. The message names the call and, where the
/// library reports one, the error's symbolic name (for example <c>CUDA_ERROR_OUT_OF_MEMORY</c>).
/// </summary>
public sealed class CudaException : Exception
{
    /// <summary>Creates an exception for <paramref name="call"/> that returned <paramref name="errorCode"/>.</summary>
    public CudaException(string call, int errorCode, string errorName, string? detail = null)
        : base($"{call} failed: {errorName} ({errorCode}){(detail is null ? "" : ": " + detail)}")
    {
        Call = call;
        ErrorCode = errorCode;
        ErrorName = errorName;
    }

    /// <summary>Creates an exception that is not tied to a status code (for example, a library that cannot be loaded).</summary>
    public CudaException(string message, Exception? inner = null) : base(message, inner)
    {
        Call = "";
        ErrorName = "";
    }

    /// <summary>The API function that failed, or empty.</summary>
    public string Call { get; }

    /// <summary>The status code the library returned (0 when not applicable).</summary>
    public int ErrorCode { get; }

    /// <summary>The symbolic name of <see cref="ErrorCode"/>, or empty.</summary>
    public string ErrorName { get; }
}
