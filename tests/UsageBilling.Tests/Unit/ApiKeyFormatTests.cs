namespace UsageBilling.Tests.Unit;

public sealed class ApiKeyFormatTests
{
    private readonly ApiKeyFormat _format = new("sk-acme-", pepper: null);

    [Fact]
    public void Generated_keys_are_well_formed_unique_and_carry_the_prefix()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => _format.Generate()).ToList();
        Assert.All(keys, k => Assert.True(_format.IsWellFormed(k)));
        Assert.All(keys, k => Assert.StartsWith("sk-acme-", k, StringComparison.Ordinal));
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
        // 32 characters from a 62-letter alphabet: log2(62^32) > 190 bits of entropy.
        Assert.True(ApiKeyFormat.RandomLength * Math.Log2(62) >= 128);
    }

    [Fact]
    public void Any_single_character_typo_is_caught_by_the_checksum()
    {
        var key = _format.Generate();
        var caught = 0;
        var tried = 0;
        for (var i = "sk-acme-".Length; i < key.Length; i++)
        {
            var chars = key.ToCharArray();
            chars[i] = chars[i] == 'x' ? 'y' : 'x';
            tried++;
            if (!_format.IsWellFormed(new string(chars)))
            {
                caught++;
            }
        }

        Assert.Equal(tried, caught);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sk-acme-")]
    [InlineData("sk-other-0123456789012345678901234567890123456")]
    [InlineData("sk-acme-0123456789abcdefghij0123456789ab!@#$%^")]
    public void Wrong_prefix_length_or_alphabet_is_malformed(string key) => Assert.False(_format.IsWellFormed(key));

    [Fact]
    public void Hashes_are_sha256_hex_or_hmac_with_the_pepper()
    {
        var key = _format.Generate();
        var plain = _format.Hash(key);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key))), plain);

        var peppered = new ApiKeyFormat("sk-acme-", new string('p', 32)).Hash(key);
        Assert.NotEqual(plain, peppered);
        Assert.Equal(64, peppered.Length);
        Assert.DoesNotContain(key, peppered, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(257)]
    [InlineData(4_000)]
    public void Any_length_of_presented_text_hashes_as_its_utf8_bytes(int length)
    {
        // Hashed from the stack up to 256 bytes, from a rented array past it; multi-byte characters count as bytes.
        var text = string.Concat(Enumerable.Repeat("é", length / 2)) + new string('k', length % 2);
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

        Assert.Equal(expected, _format.Hash(text));
    }

    [Fact]
    public void The_display_prefix_shows_only_four_random_characters()
    {
        var key = _format.Generate();
        Assert.Equal(key[..12], _format.DisplayPrefix(key));
    }

    [Fact]
    public void The_created_key_record_never_prints_its_plaintext()
    {
        var created = new CreatedApiKey(new ApiKeyRecord
        {
            Id = "key_1", AccountId = "acct_1", Name = "n", DisplayPrefix = "sk-acme-abcd", Hash = "h", CreatedAt = DateTimeOffset.UnixEpoch,
        }, "sk-acme-SECRETSECRET");
        Assert.DoesNotContain("SECRET", created.ToString(), StringComparison.Ordinal);
    }
}
