using PagedAttention.Router.Configuration;

namespace PagedAttention.Router.Routing;

/// <summary>
/// The first step of the proxy pipeline: reads at most <see cref="RouterOptions.InspectBytes"/> of a request body
/// ahead, puts a <see cref="ReplayableBodyStream"/> in its place (the replica still receives every byte, unchanged,
/// and the rest of a larger body streams through unbuffered), and under the prefix-affinity policy sets the
/// <see cref="PrefixKeyFeature"/> the policy hashes. The response is never touched, so streams pass through as they come.
/// </summary>
internal sealed class RequestBodyPrefixMiddleware(RequestDelegate next, RouterOptions options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) && !HttpMethods.IsPut(request.Method))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var length = request.ContentLength;
        if (length == 0)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var size = length is { } l ? (int)Math.Min(l, options.InspectBytes) : options.InspectBytes;
        var buffer = new byte[size];
        var read = 0;
        var original = request.Body;
        while (read < size)
        {
            var n = await original.ReadAsync(buffer.AsMemory(read), context.RequestAborted).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        // The body ended within the buffer when a read returned 0, or when Content-Length said it would.
        var complete = read < size || (length is { } cl && cl <= size);
        request.Body = new ReplayableBodyStream(buffer, read, complete ? null : original);

        if (options.Policy == RouterPolicies.PrefixAffinity)
        {
            var key = new byte[options.PrefixBytes];
            var keyLength = PrefixKeyReader.Read(buffer.AsSpan(0, read), complete, key);
            if (keyLength > 0)
            {
                context.Features.Set(new PrefixKeyFeature(ConsistentHashRing.Hash(key.AsSpan(0, keyLength)), keyLength));
            }
        }

        await next(context).ConfigureAwait(false);
    }
}
