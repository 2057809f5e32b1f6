using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// The one owner of a metered call's money and counts, used by the metering middleware and by usage ingest alike.
/// <see cref="AdmitAsync"/> answers Refused, Replayed or Admitted (a <see cref="CallLease"/>); the lease completes or
/// gives everything back exactly once; the usage record is written from what happened. Reservations are never
/// revived: a retry of an idempotency key whose earlier attempt was released or expired reserves under the next
/// attempt's key, and a completed key is replayed, never run again.
/// </summary>
internal sealed partial class MeteredCalls
{
    /// <summary>How many released or expired attempts one idempotency key may have before retries are refused.</summary>
    internal const int MaxAttempts = 32;

    /// <summary>The outcome <see cref="CompleteAsync"/> reports while a settle is not written yet (retried, or written after the request ended); the record written when it lands says <see cref="UsageOutcomes.Charged"/>.</summary>
    internal const string SettlePending = "settle_pending";

    private readonly CallCounters _counters;
    private readonly CreditManager _credits;
    private readonly IdempotentResponseStore _responses;
    private readonly PendingCompletions _pending;
    private readonly CallCompletions _completions;
    private readonly CallAdmissions _admissions;
    private readonly BillingAlerts _alerts;
    private readonly UsageLogQueue _usageLog;
    private readonly UsageBillingMetrics _metrics;
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly ILogger<MeteredCalls> _logger;

    public MeteredCalls(CallCounters counters, CreditManager credits, IdempotentResponseStore responses, PendingCompletions pending, CallCompletions completions,
        CallAdmissions admissions, BillingAlerts alerts, UsageLogQueue usageLog, UsageBillingMetrics metrics, IOptionsMonitor<UsageBillingOptions> options,
        ILogger<MeteredCalls> logger)
    {
        _counters = counters;
        _credits = credits;
        _responses = responses;
        _pending = pending;
        _completions = completions;
        _admissions = admissions;
        _alerts = alerts;
        _usageLog = usageLog;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    /// <summary>
    /// Replays a completed call with the same key and request; otherwise counts the call in every limit and budget at
    /// once and holds its price. A refusal leaves nothing counted or held; so does an exception.
    /// </summary>
    public async ValueTask<Admission> AdmitAsync(CallRequest request, CancellationToken cancellationToken)
    {
        var accountId = request.Caller.Account.Id;
        if (request.Idempotency is { } idempotency
            && await _responses.FindAsync(accountId, idempotency.Key, cancellationToken).ConfigureAwait(false) is { } stored)
        {
            return stored.Fingerprint == idempotency.Fingerprint ? Admission.Replayed(stored) : Admission.Refused(CallRefusals.KeyReused);
        }

        var plan = CallCounters.Plan(request.Caller, request.Limits, request.Quote.Llm?.TokenEstimate ?? 0, request.Quote.Amount, request.Now);
        if (_admissions.Enabled && await TryAdmitAsync(request, plan).ConfigureAwait(false) is { } admitted)
        {
            return admitted;
        }

        var counts = plan is null ? CallCounts.None : plan.Evaluate(await _counters.ApplyAsync(plan.Increments, cancellationToken).ConfigureAwait(false));
        if (!counts.Allowed)
        {
            await GiveBackAsync(counts, request.RequestId).ConfigureAwait(false);
            return RefusedBy(counts, request);
        }

        var lease = new CallLease(this, request, counts);
        try
        {
            var admission = await ReserveAsync(lease, cancellationToken).ConfigureAwait(false);
            if (admission.Lease is null)
            {
                await lease.DisposeAsync().ConfigureAwait(false);
            }

            return admission;
        }
        catch
        {
            await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Counts and holds in one step of the admission store (one transaction, shared with the calls arriving together). Null when the store did not handle it
    /// (a duplicate key, too little credit): then nothing was kept, and the separate stores answer those cases.
    /// </summary>
    private async ValueTask<Admission?> TryAdmitAsync(CallRequest request, CallCountPlan? plan)
    {
        var increments = plan?.Increments ?? [];
        var reservation = _credits.NewReservation(_credits.NewReservationId(), request.Caller.Account.Id, request.Quote.Amount, ReservationKey(request, 1),
            request.Idempotency?.Fingerprint ?? request.Reference);
        CallAdmissionResult result;
        try
        {
            // With the other calls arriving now, in one transaction (group commit); the caller's token does not cancel the group.
            result = await _admissions.AdmitAsync(new CallAdmissionRequest(increments, values => plan is null || plan.Allows(values), reservation))
                .ConfigureAwait(false);
        }
        catch
        {
            // The step may have committed with its answer lost. It is one transaction: the hold exists exactly when the
            // counts were kept, so the hold tells whether there is anything to give back.
            await _pending.RunAsync("undo the admission of " + request.RequestId, async ct =>
            {
                if (increments.Length > 0 && await _credits.FindReservationAsync(reservation.ReservationId, ct).ConfigureAwait(false) is not null)
                {
                    await _counters.ApplyAsync(CallCounts.Negated(increments), ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
            await _completions.CompleteAsync(new CallCompletion(reservation.ReservationId, null, null), null).ConfigureAwait(false);
            throw;
        }

        if (result.Status == CallAdmissionStatus.NotHandled)
        {
            return null;
        }

        var counts = plan is null ? CallCounts.None : plan.Evaluate(result.Counts);
        return result.Status switch
        {
            CallAdmissionStatus.Admitted => Admission.Admitted(new CallLease(this, request, counts)
            {
                Reservation = result.Reservation ?? throw new InvalidOperationException($"{_admissions.GetType().Name} admitted a call without a reservation."),
            }),
            _ => RefusedBy(counts, request),
        };
    }

    /// <summary>The refusal of a call its counts did not allow (given back, or never kept).</summary>
    private static Admission RefusedBy(CallCounts counts, CallRequest request)
        => Admission.Refused(counts.Limits.Exceeded is { } limit
            ? CallRefusals.RateLimited(limit, request.Now)
            : CallRefusals.BudgetExceeded(counts.Budgets.Exceeded!.Value, request.Quote.Amount), counts.Refused());

    /// <summary>The reservation key of the call's <paramref name="attempt"/>-th hold.</summary>
    private static string ReservationKey(CallRequest request, int attempt) => request.Idempotency is { } idempotency
        ? attempt == 1 ? "idem:" + idempotency.Key : string.Concat("idem:", idempotency.Key, "#", attempt.ToString(System.Globalization.CultureInfo.InvariantCulture))
        : "req:" + request.RequestId;

    private async ValueTask<Admission> ReserveAsync(CallLease lease, CancellationToken cancellationToken)
    {
        var request = lease.Request;
        var accountId = request.Caller.Account.Id;
        var reference = request.Idempotency?.Fingerprint ?? request.Reference;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var key = ReservationKey(request, attempt);
            // Known before the store answers, so that a hold whose answer is lost (a timeout after the commit) is released too.
            lease.UnconfirmedReservationId = _credits.NewReservationId();
            var reserved = await _credits.ReserveAsync(lease.UnconfirmedReservationId, accountId, request.Quote.Amount, key, reference, cancellationToken).ConfigureAwait(false);
            lease.UnconfirmedReservationId = null;
            switch (reserved.Status)
            {
                case ReserveStatus.Reserved:
                    lease.Reservation = reserved.Reservation;
                    return Admission.Admitted(lease);
                case ReserveStatus.InsufficientCredit:
                    return Admission.Refused(CallRefusals.InsufficientCredits(request.Quote.Amount, reserved.Balance), lease.Counts.Refused());
            }

            var existing = reserved.Reservation!;
            if (!string.Equals(existing.Reference, reference, StringComparison.Ordinal))
            {
                return Admission.Refused(CallRefusals.KeyReused, lease.Counts.Refused());
            }

            switch (existing.State)
            {
                case ReservationState.Active:
                    return Admission.Refused(CallRefusals.InProgress, lease.Counts.Refused());
                case ReservationState.Settled:
                    // Completed, but its response is not (or no longer) kept here: answer with its outcome, never run it again.
                    var stored = await _responses.FindAsync(accountId, request.Idempotency!.Value.Key, cancellationToken).ConfigureAwait(false);
                    return Admission.Replayed(stored?.Fingerprint == reference
                        ? stored
                        : new StoredResponse(reference, 0, null, null, existing.SettledAmount ?? Money.Zero, existing.Id));
            }

            // Released or expired: that attempt is final and charged nothing (or is charged by its own late settle); try the next.
        }

        return Admission.Refused(CallRefusals.TooManyAttempts, lease.Counts.Refused());
    }

    /// <summary>Completes an admitted call; see <see cref="CallLease.CompleteAsync"/>.</summary>
    internal async ValueTask<UsageRecord> CompleteAsync(CallLease lease, CallResult result, UsageRecord record, CallEnd? end)
    {
        var request = lease.Request;
        var reservation = lease.Reservation ?? throw new InvalidOperationException("The call holds no reservation.");

        // Keep the response for replays before the charge, so that a retry arriving after the charge finds it.
        if (request.Idempotency is { } idempotency && result.Response is { } response)
        {
            try
            {
                await _responses.StoreAsync(request.Caller.Account.Id, idempotency.Key, response, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A retry then gets 409 with the outcome (from the reservation) instead of the body.
                Log.ResponseNotKept(_logger, ex, record.RequestId);
            }
        }

        // The charge (or release), the usage record and the corrections of the call's counts (its actual tokens and
        // spend against what it counted when admitted) are written together, in a batch with other calls' (group commit).
        var charge = result.Release ? Money.Zero : result.Charge;
        var corrections = lease.Counts.Corrections(charge, result.ActualTokens);
        var ended = end ?? new CallEnd(record.StatusCode, record.DurationMs, record.ClientAborted);
        record = UsageLogQueue.Normalize(record with
        {
            StatusCode = ended.StatusCode,
            DurationMs = ended.DurationMs,
            ClientAborted = ended.ClientAborted,
            Cost = charge,
            Outcome = result.Release ? record.Outcome ?? UsageOutcomes.NotCharged : UsageOutcomes.Charged,
        });
        var completion = new CallCompletion(reservation.Id, result.Release ? null : charge, record, corrections);
        var queued = _completions.CompleteAsync(completion, result.Release ? null : landed => SettledAsync(lease, landed, charge, corrections));
        var waits = queued.IsCompleted || _options.CurrentValue.Credits.WaitForCharge || !_completions.MayRunAhead;
        var done = waits ? await queued.ConfigureAwait(false) : null;

        // Not landed yet — retried, or (not waited for) written after the request ends, which a crash can lose
        // (docs/production.md): the hold keeps the credit, and the record is written when the batch lands.
        return done is { } written ? completion.RecordFor(written.Status)! : completion.Record! with { Outcome = SettlePending };
    }

    /// <summary>Gives back an uncompleted lease's counts and releases its hold; see <see cref="CallLease.DisposeAsync"/>.</summary>
    internal async ValueTask AbandonAsync(CallLease lease)
    {
        var giveBack = lease.Counts.GiveBack();
        if (lease.Reservation is { } reservation && giveBack.Length > 0)
        {
            // With the release, in its batch: the counts move back exactly when the release completes. A hold no longer
            // active (expired while the endpoint ran) is not released by this completion, so its counts go back alone.
            await _completions.CompleteAsync(new CallCompletion(reservation.Id, null, null, giveBack), released => released.Status == CompletionStatus.NotActive
                    ? GiveBackAsync(giveBack, lease.Request.RequestId)
                    : ValueTask.CompletedTask)
                .ConfigureAwait(false);
            return;
        }

        await GiveBackAsync(giveBack, lease.Request.RequestId).ConfigureAwait(false);
        if ((lease.Reservation?.Id ?? lease.UnconfirmedReservationId) is { } reservationId)
        {
            await _completions.CompleteAsync(new CallCompletion(reservationId, null, null), null).ConfigureAwait(false);
        }
    }

    /// <summary>Writes the usage record of a call that was not admitted (or not completed).</summary>
    public async ValueTask<UsageRecord> RecordAsync(UsageRecord record)
    {
        await _usageLog.EnqueueAsync(record).ConfigureAwait(false);
        return record;
    }

    /// <summary>
    /// Bills usage that happened elsewhere (LiteLLM ingest): charges it once by <paramref name="idempotencyKey"/>,
    /// counts it in the account's budgets once (a marker counter makes a re-post give back what it added again), and
    /// writes its usage record once (by request id). Every step is idempotent, so a re-post after a partial failure
    /// finishes what the first post left undone. Returns whether the charge was there already.
    /// </summary>
    public async ValueTask<bool> RecordIngestedAsync(BillingAccount account, Money cost, string idempotencyKey, string reference, DateTimeOffset at, UsageRecord record,
        CancellationToken cancellationToken)
    {
        var duplicate = false;
        if (!cost.IsZero)
        {
            var charged = await _credits.ChargeUsedAsync(account.Id, cost, idempotencyKey, reference, cancellationToken).ConfigureAwait(false);
            duplicate = charged.Status == PostStatus.Duplicate;
            if (!duplicate)
            {
                _metrics.Charged(cost);
            }

            await AddIngestedSpendAsync(account, cost, idempotencyKey, at, cancellationToken).ConfigureAwait(false);
        }

        await RecordAsync(record with { Cost = cost, Outcome = UsageOutcomes.Charged }).ConfigureAwait(false);
        return duplicate;
    }

    private async ValueTask AddIngestedSpendAsync(BillingAccount account, Money cost, string idempotencyKey, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var periods = new List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)>();
        BudgetPeriods.AddPeriods(periods, "account", account.Id, account.Budget, at);
        if (periods.Count == 0)
        {
            return;
        }

        // The marker and the spend move together: a marker above 1 means this post added the spend again, and the
        // give-back (marker and spend together) undoes exactly that.
        var increments = new CounterIncrement[periods.Count + 1];
        increments[0] = new CounterIncrement("spend:ingested:" + idempotencyKey, 1, periods.Max(p => p.ResetAt));
        BudgetPeriods.WriteIncrements(periods, cost, increments.AsSpan(1));
        var values = await _counters.ApplyAsync(increments, cancellationToken).ConfigureAwait(false);
        if (values[0] > 1)
        {
            var giveBack = CallCounts.Negated(increments);
            await _pending.RunAsync("give back the repeated spend of " + idempotencyKey, async ct => await _counters.ApplyAsync(giveBack, ct).ConfigureAwait(false))
                .ConfigureAwait(false);
            return;
        }

        var states = BudgetPeriods.Evaluate(periods, increments[1..], values[1..], Money.Zero).States;
        await CheckAlertsAsync(account.Id, "", states, balanceToo: false).ConfigureAwait(false);
    }

    /// <summary>What a settle that landed means: metrics and alerts (the record and the corrections were written with it).</summary>
    private async ValueTask SettledAsync(CallLease lease, CompletionResult settled, Money charge, List<CounterIncrement> corrections)
    {
        switch (settled.Status)
        {
            case CompletionStatus.Completed:
            case CompletionStatus.AlreadyCompleted:
                // Already: an earlier write of this completion landed but its answer was lost, so this is the first time it
                // is seen landed. The budgets as its corrections left them — unknown when not applied by this write (no
                // budget alert then: the admission's counts may overstate the spend).
                _metrics.Charged(charge);
                IReadOnlyList<BudgetState> budgets = corrections.Count == 0 ? lease.Counts.Budgets.States
                    : settled.Counted is { } values ? lease.Counts.BudgetsAfter(corrections, values)
                    : [];
                await CheckAlertsAsync(lease.Request.Caller.Account.Id, lease.Request.Caller.Key.Id, budgets, balanceToo: !charge.IsZero).ConfigureAwait(false);
                break;
            case CompletionStatus.NotActive:
                // Released or gone before its call completed (changed by hand?): nothing was charged, and the record says so.
                Log.NotCharged(_logger, lease.Reservation!.Id, lease.Request.RequestId);
                _metrics.RequestRejected("settle_not_active");
                break;
        }
    }

    private async ValueTask CheckAlertsAsync(string accountId, string keyId, IReadOnlyList<BudgetState> budgets, bool balanceToo)
    {
        try
        {
            await _alerts.CheckBudgetsAsync(accountId, keyId, budgets, CancellationToken.None).ConfigureAwait(false);
            if (balanceToo && _options.CurrentValue.Alerts.LowBalance is not null && !_alerts.LowBalanceRaised(accountId))
            {
                var balance = await _credits.GetBalanceAsync(accountId, CancellationToken.None).ConfigureAwait(false);
                await _alerts.CheckBalanceAsync(accountId, balance, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            // Alerts never fail a call.
            Log.AlertsFailed(_logger, ex, accountId);
        }
    }

    private ValueTask GiveBackAsync(CallCounts counts, string requestId) => GiveBackAsync(counts.GiveBack(), requestId);

    private async ValueTask GiveBackAsync(CounterIncrement[] giveBack, string requestId)
    {
        if (giveBack.Length > 0)
        {
            await _pending.RunAsync("give back the counts of " + requestId, async ct => await _counters.ApplyGroupedAsync(giveBack, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Reservation {ReservationId} of request {RequestId} was no longer active when its call completed; nothing was charged.", EventName = "SettleNotActive")]
        public static partial void NotCharged(ILogger logger, string reservationId, string requestId);

        [LoggerMessage(2, LogLevel.Warning, "Keeping the response of request {RequestId} for idempotent replays failed; a retry gets 409 with its outcome.", EventName = "ResponseNotKept")]
        public static partial void ResponseNotKept(ILogger logger, Exception exception, string requestId);

        [LoggerMessage(3, LogLevel.Warning, "Checking budget and balance alerts of account {AccountId} failed.", EventName = "AlertsFailed")]
        public static partial void AlertsFailed(ILogger logger, Exception exception, string accountId);
    }
}
