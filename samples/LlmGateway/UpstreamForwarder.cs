using System.Net.Http.Headers;

namespace LlmGateway;

/// <summary>
/// Forwards a call to a real upstream and streams the answer back chunk by chunk, so the billing middleware reads
/// usage from exactly the bytes the client receives.
/// </summary>
internal sealed class UpstreamForwarder(HttpClient http)
{
    /// <param name="context">The request being served.</param>
    /// <param name="upstream">Where to send it.</param>
    /// <param name="path">The upstream path.</param>
    /// <param name="body">The request body, as received.</param>
    /// <param name="anthropic">Whether the upstream speaks Anthropic's headers.</param>
    /// <param name="ownKey">The account's own provider key, used instead of the gateway's when present.</param>
    public async Task ForwardAsync(HttpContext context, UpstreamOptions upstream, string path, byte[] body, bool anthropic, string? ownKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, upstream.BaseUrl.TrimEnd('/') + path)
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var apiKey = ownKey ?? upstream.ApiKey;
        if (!string.IsNullOrEmpty(apiKey))
        {
            if (anthropic)
            {
                request.Headers.Add("x-api-key", apiKey);
                request.Headers.Add("anthropic-version", context.Request.Headers["anthropic-version"].FirstOrDefault() ?? "2023-06-01");
            }
            else
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            }
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        context.Response.ContentType = response.Content.Headers.ContentType?.ToString() ?? "application/json";
        await using var stream = await response.Content.ReadAsStreamAsync(context.RequestAborted);
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }
}
