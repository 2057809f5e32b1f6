namespace UsageBilling;

/// <summary>The in-memory <see cref="IApiKeyStore"/>.</summary>
internal sealed class InMemoryApiKeyStore : IApiKeyStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ApiKeyRecord> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _idByHash = new(StringComparer.Ordinal);

    public ValueTask CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_byId.ContainsKey(key.Id) || _idByHash.ContainsKey(key.Hash))
            {
                throw new InvalidOperationException($"A key with id '{key.Id}' or the same hash already exists.");
            }

            _byId[key.Id] = key;
            _idByHash[key.Hash] = key.Id;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_idByHash.TryGetValue(hash, out var id) ? _byId[id] : null);
        }
    }

    public ValueTask<ApiKeyRecord?> FindByIdAsync(string keyId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_byId.GetValueOrDefault(keyId));
        }
    }

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? afterId, int limit, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<ApiKeyRecord> keys = _byId.Values
                .Where(k => afterId is null || string.CompareOrdinal(k.Id, afterId) > 0)
                .OrderBy(k => k.Id, StringComparer.Ordinal)
                .Take(limit)
                .ToList();
            return ValueTask.FromResult(keys);
        }
    }

    public ValueTask<bool> UpdateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (!_byId.TryGetValue(key.Id, out var current))
            {
                return ValueTask.FromResult(false);
            }

            _byId[key.Id] = current with { Name = key.Name, ExpiresAt = key.ExpiresAt, Limits = key.Limits, Budget = key.Budget };
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListByAccountAsync(string accountId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<ApiKeyRecord> keys = _byId.Values
                .Where(k => k.AccountId == accountId)
                .OrderBy(k => k.CreatedAt)
                .ThenBy(k => k.Id, StringComparer.Ordinal)
                .ToList();
            return ValueTask.FromResult(keys);
        }
    }

    public ValueTask<bool> RevokeAsync(string keyId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (!_byId.TryGetValue(keyId, out var key))
            {
                return ValueTask.FromResult(false);
            }

            if (key.RevokedAt is null)
            {
                _byId[keyId] = key with { RevokedAt = revokedAt };
            }

            return ValueTask.FromResult(true);
        }
    }

    public ValueTask TouchAsync(string keyId, DateTimeOffset usedAt, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_byId.TryGetValue(keyId, out var key) && (key.LastUsedAt is null || key.LastUsedAt < usedAt))
            {
                _byId[keyId] = key with { LastUsedAt = usedAt };
            }
        }

        return ValueTask.CompletedTask;
    }
}
