using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NSubstitute;

namespace UsageBilling.Tests.Integration;

public sealed class ApiKeyAuthenticationTests : IDisposable
{
    private readonly MeteredApiFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task Without_a_key_the_caller_gets_401_problem_details_with_a_challenge()
    {
        using var client = _factory.CreateClient();
        var response = await client.GetAsync("/v1/quote");
        await MeteredApiFactory.ReadProblemAsync(response, 401, ProblemTypes.MissingApiKey);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Theory]
    [InlineData("Authorization")]
    [InlineData("X-API-Key")]
    [InlineData("x-api-key")]
    public async Task The_key_is_read_from_the_bearer_token_or_the_api_key_header(string header)
    {
        var (_, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/quote");
        request.Headers.TryAddWithoutValidation(header, header == "Authorization" ? $"Bearer {key}" : key);

        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Keys_are_generated_with_the_configured_prefix_and_never_listed_in_plaintext()
    {
        var (accountId, key, keyId) = await _factory.CreateCustomerAsync(credits: 0m);
        Assert.StartsWith("sk-demo-", key, StringComparison.Ordinal);
        Assert.Equal("sk-demo-".Length + 38, key.Length);

        using var admin = _factory.CreateAdminClient();
        var listed = await admin.GetStringAsync($"/admin/billing/accounts/{accountId}/keys");
        Assert.DoesNotContain(key, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(key[8..], listed, StringComparison.Ordinal);
        Assert.DoesNotContain("hash", listed, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(keyId, listed, StringComparison.Ordinal);
        Assert.Contains(key[..12], listed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sk-demo-not-a-key")]
    [InlineData("sk-other-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("")]
    public async Task Malformed_keys_are_refused_without_touching_the_store(string presented)
    {
        var store = Substitute.For<IApiKeyStore>();
        using var factory = new MeteredApiFactory { ConfigureTestServices = s => s.Replace(ServiceDescriptor.Singleton(store)) };
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/quote");
        request.Headers.TryAddWithoutValidation("X-API-Key", presented);

        var response = await client.SendAsync(request);
        await MeteredApiFactory.ReadProblemAsync(response, 401, presented.Length == 0 ? ProblemTypes.MissingApiKey : ProblemTypes.InvalidApiKey);
        await store.DidNotReceiveWithAnyArgs().FindByHashAsync(default!, default);
    }

    [Fact]
    public async Task A_key_with_one_character_changed_fails_its_checksum_without_a_store_lookup()
    {
        var (_, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        var chars = key.ToCharArray();
        chars[12] = chars[12] == 'a' ? 'b' : 'a';
        var typo = new string(chars);

        var store = Substitute.For<IApiKeyStore>();
        using var factory = new MeteredApiFactory { ConfigureTestServices = s => s.Replace(ServiceDescriptor.Singleton(store)) };
        using var client = factory.CreateKeyClient(typo);
        var response = await client.GetAsync("/v1/quote");

        var problem = await MeteredApiFactory.ReadProblemAsync(response, 401, ProblemTypes.InvalidApiKey);
        Assert.Contains("malformed", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await store.DidNotReceiveWithAnyArgs().FindByHashAsync(default!, default);
    }

    [Fact]
    public async Task A_well_formed_but_unknown_key_is_refused()
    {
        var (_, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var other = new MeteredApiFactory();
        using var client = other.CreateKeyClient(key);
        await MeteredApiFactory.ReadProblemAsync(await client.GetAsync("/v1/quote"), 401, ProblemTypes.InvalidApiKey);
    }

    [Fact]
    public async Task A_key_revoked_through_the_admin_api_is_refused_at_once()
    {
        var (accountId, key, keyId) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateKeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);

        using var admin = _factory.CreateAdminClient();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/admin/billing/keys/{keyId}")).StatusCode);

        var problem = await MeteredApiFactory.ReadProblemAsync(await client.GetAsync("/v1/quote"), 401, ProblemTypes.InvalidApiKey);
        Assert.Contains("revoked", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal((0.99m, 0m), await _factory.GetBalanceAsync(accountId));
        var keys = await admin.GetFromJsonAsync<System.Text.Json.JsonElement>($"/admin/billing/accounts/{accountId}/keys");
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, keys[0].GetProperty("revokedAt").ValueKind);
    }

    [Fact]
    public async Task A_revocation_made_elsewhere_is_seen_within_the_cache_duration()
    {
        var (_, key, keyId) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateKeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);

        // Another instance revokes the key in the shared store; this instance still has it cached.
        var store = _factory.Services.GetRequiredService<IApiKeyStore>();
        await store.RevokeAsync(keyId, _factory.Time.GetUtcNow());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);

        _factory.Time.Advance(TimeSpan.FromSeconds(31));
        await MeteredApiFactory.ReadProblemAsync(await client.GetAsync("/v1/quote"), 401, ProblemTypes.InvalidApiKey);
    }

    [Fact]
    public async Task An_expired_key_is_refused()
    {
        var (_, key, _) = await _factory.CreateCustomerAsync(credits: 1m, expiresAt: _factory.Time.GetUtcNow().AddHours(1));
        using var client = _factory.CreateKeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);

        _factory.Time.Advance(TimeSpan.FromHours(1));
        var problem = await MeteredApiFactory.ReadProblemAsync(await client.GetAsync("/v1/quote"), 401, ProblemTypes.InvalidApiKey);
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
