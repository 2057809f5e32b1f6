using System.Net;

namespace UsageBilling.Tests.Integration;

public sealed class IdempotencyTests : IDisposable
{
    private readonly MeteredApiFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task A_replayed_idempotency_key_is_served_and_charged_once()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateKeyClient(key);

        var first = await SendAsync(client, "/v1/quote", "order-1");
        var replay = await SendAsync(client, "/v1/quote", "order-1");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal("true", MeteringTests.Header(replay, "Idempotent-Replayed"));
        Assert.Null(MeteringTests.Header(first, "Idempotent-Replayed"));
        Assert.Equal((0.99m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task Parallel_requests_with_one_idempotency_key_are_charged_once()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m, plan: "unmetered");
        using var client = _factory.CreateKeyClient(key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => SendAsync(client, "/v1/quote", "same-order")));

        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.Conflict }));
        Assert.Equal((0.99m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task The_same_key_on_another_path_is_refused_with_422()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateKeyClient(key);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, "/v1/reports/a", "k-1")).StatusCode);
        await MeteredApiFactory.ReadProblemAsync(await SendAsync(client, "/v1/reports/b", "k-1"), 422, ProblemTypes.IdempotencyKeyReused);
        await MeteredApiFactory.ReadProblemAsync(await SendAsync(client, "/v1/quote", "k-1"), 422, ProblemTypes.IdempotencyKeyReused);
        Assert.Equal((0.95m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task Idempotency_keys_are_scoped_to_the_account()
    {
        var (first, firstKey, _) = await _factory.CreateCustomerAsync(credits: 1m);
        var (second, secondKey, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var a = _factory.CreateKeyClient(firstKey);
        using var b = _factory.CreateKeyClient(secondKey);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(a, "/v1/quote", "shared")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(b, "/v1/quote", "shared")).StatusCode);
        Assert.Equal((0.99m, 0m), await _factory.GetBalanceAsync(first));
        Assert.Equal((0.99m, 0m), await _factory.GetBalanceAsync(second));
    }

    [Fact]
    public async Task Retrying_a_key_whose_attempts_were_not_billable_never_charges()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateKeyClient(key);
        var longId = new string('x', 65);

        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(client, $"/v1/reports/{longId}", "retry-me")).StatusCode);
        Assert.Equal((1m, 0m), await _factory.GetBalanceAsync(accountId));
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(client, $"/v1/reports/{longId}", "retry-me")).StatusCode);
        Assert.Equal((1m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("ümlaut")]
    public async Task An_invalid_idempotency_key_is_a_400_and_not_charged(string idempotencyKey)
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateKeyClient(key);

        await MeteredApiFactory.ReadProblemAsync(await SendAsync(client, "/v1/quote", idempotencyKey), 400, ProblemTypes.InvalidIdempotencyKey);
        await MeteredApiFactory.ReadProblemAsync(await SendAsync(client, "/v1/quote", new string('k', 256)), 400, ProblemTypes.InvalidIdempotencyKey);
        Assert.Equal((1m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string path, string idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request);
    }
}
