using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Moves credit: grants, refunds and adjustments from operators; reserve → settle / release for billed calls.
/// Every move goes through <see cref="ICreditStore"/>, which makes it atomic and at most once per idempotency key.
/// </summary>
public sealed class CreditManager
{
    private readonly ICreditStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly IOptions<UsageBillingOptions> _options;
    private readonly UsageBillingMetrics? _metrics;

    internal CreditManager(ICreditStore store, TimeProvider timeProvider, IOptions<UsageBillingOptions> options, UsageBillingMetrics? metrics = null)
    {
        _metrics = metrics;
        _store = store;
        _timeProvider = timeProvider;
        _options = options;
    }

    /// <summary>The account's balance and active holds.</summary>
    public ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(_metrics, "credits.balance", (_store, accountId, cancellationToken), static s => s._store.GetBalanceAsync(s.accountId, s.cancellationToken));

    /// <summary>A page of the account's ledger, newest first.</summary>
    public ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit = 50, string? cursor = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return StoreCalls.RunAsync(_metrics, "credits.ledger", (_store, accountId, limit, cursor, cancellationToken),
            static s => s._store.GetLedgerAsync(s.accountId, s.limit, s.cursor, s.cancellationToken));
    }

    /// <summary>
    /// Writes a grant, refund or adjustment. Grants and refunds must be positive; an adjustment may be negative but
    /// never takes the available balance below zero. With the same <paramref name="idempotencyKey"/> the move
    /// happens once and later calls return <see cref="PostStatus.Duplicate"/> with the original entry.
    /// </summary>
    /// <param name="accountId">The account.</param>
    /// <param name="kind">Grant, refund or adjustment.</param>
    /// <param name="amount">The signed amount; not zero.</param>
    /// <param name="idempotencyKey">A key unique to this move (for example a payment id); one is made up when <see langword="null"/>.</param>
    /// <param name="reason">A free-text reason kept on the entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public ValueTask<PostResult> PostAsync(string accountId, LedgerEntryKind kind, Money amount, string? idempotencyKey = null, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        if (kind == LedgerEntryKind.Charge)
        {
            throw new ArgumentException("Charges come from settling reservations.", nameof(kind));
        }

        if (amount.IsZero || (kind != LedgerEntryKind.Adjustment && amount.IsNegative))
        {
            throw new ArgumentOutOfRangeException(nameof(amount), amount, "Grants and refunds must be positive; adjustments must not be zero.");
        }

        var now = _timeProvider.GetUtcNow();
        return Post("credits.post", new LedgerPostRequest
        {
            EntryId = BillingIds.New("led", _timeProvider),
            AccountId = accountId,
            Kind = kind,
            Amount = amount,
            IdempotencyKey = "ext:" + (idempotencyKey ?? Guid.NewGuid().ToString("N")),
            Reason = reason,
            CreatedAt = now,
        }, cancellationToken);
    }

    /// <summary>Charges usage that already happened, without a reservation; the balance may go below zero. Once per idempotency key.</summary>
    internal ValueTask<PostResult> ChargeUsedAsync(string accountId, Money amount, string idempotencyKey, string? reference, CancellationToken cancellationToken)
        => Post("credits.charge", new LedgerPostRequest
        {
            EntryId = BillingIds.New("led", _timeProvider),
            AccountId = accountId,
            Kind = LedgerEntryKind.Charge,
            Amount = -amount,
            IdempotencyKey = idempotencyKey,
            RequireAvailableBalance = false,
            Reference = reference,
            CreatedAt = _timeProvider.GetUtcNow(),
        }, cancellationToken);

    /// <summary>
    /// Holds <paramref name="amount"/> on the account until it is settled or released, or until
    /// <see cref="CreditOptions.ReservationTimeout"/> passes and the sweeper releases it.
    /// </summary>
    /// <param name="accountId">The account.</param>
    /// <param name="amount">The amount to hold (the most the call can cost).</param>
    /// <param name="idempotencyKey">A key unique to the call; the same key never holds twice.</param>
    /// <param name="reference">What the hold is for; reusing the key for something else is reported as a duplicate.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public ValueTask<ReserveResult> ReserveAsync(string accountId, Money amount, string idempotencyKey, string? reference = null, CancellationToken cancellationToken = default)
        => ReserveAsync(NewReservationId(), accountId, amount, idempotencyKey, reference, cancellationToken);

    /// <summary>Finds a reservation by id.</summary>
    internal ValueTask<CreditReservation?> FindReservationAsync(string reservationId, CancellationToken cancellationToken)
        => StoreCalls.RunAsync(_metrics, "credits.find_reservation", (_store, reservationId, cancellationToken), static s => s._store.FindReservationAsync(s.reservationId, s.cancellationToken));

    /// <summary>A new reservation id, for a caller that must know it before the store answers (to release a hold whose answer was lost).</summary>
    internal string NewReservationId() => BillingIds.New("res", _timeProvider);

    /// <summary>Holds <paramref name="amount"/> under the given reservation id; see the public overload.</summary>
    internal ValueTask<ReserveResult> ReserveAsync(string reservationId, string accountId, Money amount, string idempotencyKey, string? reference, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        if (amount.IsNegative)
        {
            throw new ArgumentOutOfRangeException(nameof(amount), amount, "A reservation cannot be negative.");
        }

        return StoreCalls.RunAsync(_metrics, "credits.reserve", (_store, request: NewReservation(reservationId, accountId, amount, idempotencyKey, reference), cancellationToken),
            static s => s._store.ReserveAsync(s.request, s.cancellationToken));
    }

    /// <summary>The request for a hold made now, expiring after <c>Credits:ReservationTimeout</c>.</summary>
    internal CreditReservationRequest NewReservation(string reservationId, string accountId, Money amount, string idempotencyKey, string? reference)
    {
        var now = _timeProvider.GetUtcNow();
        return new CreditReservationRequest
        {
            ReservationId = reservationId,
            AccountId = accountId,
            Amount = amount,
            IdempotencyKey = idempotencyKey,
            Reference = reference,
            CreatedAt = now,
            ExpiresAt = now + _options.Value.Credits.ReservationTimeout,
        };
    }

    private ValueTask<PostResult> Post(string operation, LedgerPostRequest request, CancellationToken cancellationToken)
        => StoreCalls.RunAsync(_metrics, operation, (_store, request, cancellationToken), static s => s._store.PostAsync(s.request, s.cancellationToken));

    /// <summary>Charges the actual cost of a reserved call and releases the rest of the hold; settling twice charges once.</summary>
    public ValueTask<SettleResult> SettleAsync(string reservationId, Money actualAmount, CancellationToken cancellationToken = default)
    {
        if (actualAmount.IsNegative)
        {
            throw new ArgumentOutOfRangeException(nameof(actualAmount), actualAmount, "A charge cannot be negative.");
        }

        return StoreCalls.RunAsync(_metrics, "credits.settle", (_store, reservationId, actualAmount, now: _timeProvider.GetUtcNow(), cancellationToken),
            static s => s._store.SettleAsync(s.reservationId, s.actualAmount, s.now, s.cancellationToken));
    }

    /// <summary>Releases a hold without charging.</summary>
    public ValueTask<bool> ReleaseAsync(string reservationId, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(_metrics, "credits.release", (_store, reservationId, now: _timeProvider.GetUtcNow(), cancellationToken),
            static s => s._store.ReleaseAsync(s.reservationId, s.now, s.cancellationToken));
}
