using System.Runtime.InteropServices;
using System.Text;

namespace PagedAttention.Text.Tokenization;

/// <summary>
/// NFC/NFD/NFKC/NFKD. <see cref="string.Normalize(NormalizationForm)"/> silently returns its input
/// unchanged under InvariantGlobalization (which this repo enables), so when the runtime cannot
/// normalize we call ICU's unorm2 directly, as the runtime itself would.
/// </summary>
internal static unsafe class UnicodeNormalization
{
    private static readonly bool RuntimeWorks = "e\u0301".Normalize(NormalizationForm.FormC).Length == 1;
    private static readonly IcuNormalizer? Icu = RuntimeWorks ? null : IcuNormalizer.TryCreate();

    /// <summary>True when normalization really happens on this process (runtime or ICU).</summary>
    public static bool IsAvailable => RuntimeWorks || Icu is not null;

    public static string Normalize(string s, NormalizationForm form)
    {
        if (s.Length == 0 || IsAscii(s)) return s; // ASCII is invariant under all four forms.
        if (RuntimeWorks) return s.IsNormalized(form) ? s : s.Normalize(form);
        if (Icu is null)
            throw new PlatformNotSupportedException(
                "Unicode normalization is unavailable: globalization-invariant mode is on and ICU (libicuuc) was not found.");
        char[] buffer = t_buffer ?? [];
        bool changed = Icu.Normalize(s, form, ref buffer, out int n);
        string result = changed ? new string(buffer, 0, n) : s;
        t_buffer = buffer.Length <= MaxKeptBuffer ? buffer : null;
        return result;
    }

    /// <summary>
    /// Normalizes into a per-thread buffer: returns <paramref name="s"/> itself when ASCII or already normalized,
    /// else a span of the buffer, valid until the next call on this thread.
    /// </summary>
    public static ReadOnlySpan<char> NormalizeToScratch(ReadOnlySpan<char> s, NormalizationForm form)
    {
        if (s.IsEmpty || System.Text.Ascii.IsValid(s)) return s;
        if (RuntimeWorks) return s.ToString().Normalize(form);
        if (Icu is null)
            throw new PlatformNotSupportedException(
                "Unicode normalization is unavailable: globalization-invariant mode is on and ICU (libicuuc) was not found.");
        char[] buffer = t_buffer ?? [];
        bool changed = Icu.Normalize(s, form, ref buffer, out int n);
        t_buffer = buffer; // the caller still reads it; a huge one is dropped by the next string Normalize
        return changed ? buffer.AsSpan(0, n) : s;
    }

    private const int MaxKeptBuffer = 1 << 20;
    [ThreadStatic] private static char[]? t_buffer;

    private static bool IsAscii(string s) => System.Text.Ascii.IsValid(s);

    private sealed class IcuNormalizer
    {
        private readonly delegate* unmanaged<int*, nint> _getNfc, _getNfd, _getNfkc, _getNfkd;
        private readonly delegate* unmanaged<nint, char*, int, char*, int, int*, int> _normalize;
        private readonly delegate* unmanaged<nint, char*, int, int*, int> _spanQuickCheckYes; // null if not exported

        private IcuNormalizer(nint lib, string suffix)
        {
            _getNfc = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(lib, "unorm2_getNFCInstance" + suffix);
            _getNfd = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(lib, "unorm2_getNFDInstance" + suffix);
            _getNfkc = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(lib, "unorm2_getNFKCInstance" + suffix);
            _getNfkd = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(lib, "unorm2_getNFKDInstance" + suffix);
            _normalize = (delegate* unmanaged<nint, char*, int, char*, int, int*, int>)NativeLibrary.GetExport(lib, "unorm2_normalize" + suffix);
            if (NativeLibrary.TryGetExport(lib, "unorm2_spanQuickCheckYes" + suffix, out nint qc))
                _spanQuickCheckYes = (delegate* unmanaged<nint, char*, int, int*, int>)qc;
        }

        public static IcuNormalizer? TryCreate()
        {
            // ICU exports versioned symbols (unorm2_normalize_72); probe like the runtime does.
            for (int v = 90; v >= 50; v--)
            {
                if (!NativeLibrary.TryLoad($"libicuuc.so.{v}", out nint lib)) continue;
                foreach (string suffix in new[] { "_" + v, "" })
                    if (NativeLibrary.TryGetExport(lib, "unorm2_normalize" + suffix, out _))
                        return new IcuNormalizer(lib, suffix);
            }
            if (NativeLibrary.TryLoad("libicuuc.so", out nint plain) && NativeLibrary.TryGetExport(plain, "unorm2_normalize", out _))
                return new IcuNormalizer(plain, "");
            return null;
        }

        /// <summary>False when the input is already normalized (quick check), else true with the normalized text in
        /// <c>buffer[..length]</c> (the buffer grown as needed).</summary>
        public bool Normalize(ReadOnlySpan<char> s, NormalizationForm form, ref char[] buffer, out int length)
        {
            int err = 0;
            nint inst = form switch
            {
                NormalizationForm.FormC => _getNfc(&err),
                NormalizationForm.FormD => _getNfd(&err),
                NormalizationForm.FormKC => _getNfkc(&err),
                _ => _getNfkd(&err),
            };
            if (err > 0) throw new InvalidOperationException($"ICU normalizer instance failed ({err}).");
            if (_spanQuickCheckYes != null)
            {
                // Already normalized (the common case for real text): return the input, allocating nothing.
                int end;
                fixed (char* src = s) end = _spanQuickCheckYes(inst, src, s.Length, &err);
                if (err <= 0 && end == s.Length) { length = s.Length; return false; }
                err = 0;
            }
            int cap = s.Length * 3 + 16; // NFKD of a BMP char is at most 18 code units; grow if ICU says so.
            while (true)
            {
                if (buffer.Length < cap) buffer = new char[cap];
                err = 0;
                int n;
                fixed (char* src = s)
                fixed (char* dst = buffer)
                    n = _normalize(inst, src, s.Length, dst, buffer.Length, &err);
                if (err == 15 /* U_BUFFER_OVERFLOW_ERROR */) { cap = n + 1; continue; }
                if (err > 0) throw new InvalidOperationException($"ICU normalization failed ({err}).");
                length = n;
                return true;
            }
        }
    }
}
