namespace UsageBilling;

/// <summary>The in-memory <see cref="IProviderKeyStore"/>.</summary>
internal sealed class InMemoryProviderKeyStore : IProviderKeyStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string AccountId, string Provider), ProviderKey> _keys = [];

    public ValueTask<ProviderKey> UpsertAsync(ProviderKey key, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var stored = _keys.TryGetValue((key.AccountId, key.Provider), out var existing)
                ? key with { Id = existing.Id, CreatedAt = existing.CreatedAt }
                : key;
            _keys[(key.AccountId, key.Provider)] = stored;
            return ValueTask.FromResult(stored);
        }
    }

    public ValueTask<ProviderKey?> FindAsync(string accountId, string provider, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_keys.GetValueOrDefault((accountId, provider)));
        }
    }

    public ValueTask<IReadOnlyList<ProviderKey>> ListAsync(string accountId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<ProviderKey> keys = _keys.Values.Where(k => k.AccountId == accountId).OrderBy(k => k.Provider, StringComparer.Ordinal).ToList();
            return ValueTask.FromResult(keys);
        }
    }

    public ValueTask<bool> SetEnabledAsync(string accountId, string provider, bool enabled, DateTimeOffset updatedAt, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (!_keys.TryGetValue((accountId, provider), out var key))
            {
                return ValueTask.FromResult(false);
            }

            _keys[(accountId, provider)] = key with { Enabled = enabled, UpdatedAt = updatedAt };
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<bool> DeleteAsync(string accountId, string provider, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_keys.Remove((accountId, provider)));
        }
    }
}
