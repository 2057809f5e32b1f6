using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace UsageBilling.Tests.Unit;

/// <summary>
/// The group-committed admission queue in front of a one-step admission store: which calls go together, and that
/// each caller gets its own call's answer (or its group's failure), never another caller's.
/// </summary>
public sealed class CallAdmissionsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Only_a_store_that_admits_in_one_step_turns_the_queue_on()
    {
        Assert.False(new CallAdmissions(new SeparateStoreAdmissions()).Enabled);
        Assert.True(new CallAdmissions(new ScriptedStore()).Enabled);
    }

    [Fact]
    public async Task Calls_arriving_while_a_group_is_written_go_together_as_the_next_group_and_each_caller_gets_its_own_answer()
    {
        var store = new ScriptedStore();
        var admissions = new CallAdmissions(store);
        var first = admissions.AdmitAsync(Call(0));
        var waiting = Enumerable.Range(1, 5).Select(i => admissions.AdmitAsync(Call(i))).ToList();

        store.Gate.SetResult();
        var results = await Task.WhenAll(waiting.Prepend(first)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([["res_0"], ["res_1", "res_2", "res_3", "res_4", "res_5"]], store.Groups);

        // The store admits even-numbered calls and refuses the others: every caller learns its own call's fate.
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(i % 2 == 0 ? CallAdmissionStatus.Admitted : CallAdmissionStatus.Refused, results[i].Status);
            Assert.Equal([i], results[i].Counts);
            Assert.Equal(i % 2 == 0 ? "res_" + i : null, results[i].Reservation?.Id);
        }
    }

    [Fact]
    public async Task Each_group_is_one_timed_store_call_named_admissions_admit()
    {
        var collection = new ServiceCollection().AddLogging().AddMetrics();
        collection.AddUsageBilling();
        await using var services = collection.BuildServiceProvider();
        using var durations = new MetricCollector<double>(services.GetRequiredService<IMeterFactory>(), UsageBillingMetrics.MeterName, "usagebilling.store.duration");
        var store = new ScriptedStore();
        var admissions = new CallAdmissions(store, services.GetRequiredService<UsageBillingMetrics>());
        var first = admissions.AdmitAsync(Call(0));
        var second = admissions.AdmitAsync(Call(1));
        var third = admissions.AdmitAsync(Call(2));

        store.Gate.SetResult();
        await Task.WhenAll(first, second, third).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["admissions.admit", "admissions.admit"], durations.GetMeasurementSnapshot().Select(m => (string)m.Tags["usagebilling.store.operation"]!));
    }

    [Fact]
    public async Task A_group_the_store_fails_fails_each_of_its_callers_with_that_error_and_the_next_group_is_admitted()
    {
        var failure = new TimeoutException("the database did not answer");
        var store = new ScriptedStore { Failure = failure };
        var admissions = new CallAdmissions(store);
        var first = admissions.AdmitAsync(Call(0));
        var second = admissions.AdmitAsync(Call(1));

        store.Gate.SetResult();
        Assert.Same(failure, await Assert.ThrowsAsync<TimeoutException>(() => first.WaitAsync(TimeSpan.FromSeconds(30))));
        Assert.Same(failure, await Assert.ThrowsAsync<TimeoutException>(() => second.WaitAsync(TimeSpan.FromSeconds(30))));

        store.Failure = null;
        var later = await admissions.AdmitAsync(Call(2)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("res_2", later.Reservation?.Id);
    }

    [Fact]
    public async Task A_store_that_answers_a_group_with_more_or_fewer_results_than_calls_fails_every_caller_of_it()
    {
        foreach (var extra in new[] { 1, -1 })
        {
            var store = new ScriptedStore { Extra = extra };
            var admissions = new CallAdmissions(store);
            var first = admissions.AdmitAsync(Call(0));
            var second = admissions.AdmitAsync(Call(1));
            var third = admissions.AdmitAsync(Call(2));

            // Answers cannot be matched to calls: no caller may take one that could be another call's.
            store.Gate.SetResult();
            await Assert.ThrowsAsync<InvalidOperationException>(() => first.WaitAsync(TimeSpan.FromSeconds(30)));
            await Assert.ThrowsAsync<InvalidOperationException>(() => second.WaitAsync(TimeSpan.FromSeconds(30)));
            await Assert.ThrowsAsync<InvalidOperationException>(() => third.WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    private static CallAdmissionRequest Call(int number) => new([new CounterIncrement("rpm", 1, Now.AddMinutes(1))], _ => true, new CreditReservationRequest
    {
        ReservationId = "res_" + number,
        AccountId = "acct",
        Amount = Money.FromUnits(1m),
        IdempotencyKey = "req:" + number,
        CreatedAt = Now,
        ExpiresAt = Now.AddMinutes(5),
    });

    /// <summary>
    /// Holds its first group until <see cref="Gate"/> opens, so that the calls after it queue up; admits the calls with
    /// an even number and refuses the others, each with its number as its count.
    /// </summary>
    private sealed class ScriptedStore : ICallAdmissionStore
    {
        private int _calls;

        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string[]> Groups { get; } = [];

        public Exception? Failure { get; set; }

        /// <summary>One result more (positive) or fewer (negative) than calls in every answer.</summary>
        public int Extra { get; init; }

        public async ValueTask<IReadOnlyList<CallAdmissionResult>> TryAdmitAsync(IReadOnlyList<CallAdmissionRequest> calls, CancellationToken cancellationToken = default)
        {
            var group = Interlocked.Increment(ref _calls);
            lock (Groups)
            {
                Groups.Add([.. calls.Select(c => c.Reservation.ReservationId)]);
            }

            if (group == 1)
            {
                await Gate.Task;
            }

            if (Failure is { } failure)
            {
                throw failure;
            }

            var results = calls.Select(c => Answer(c.Reservation)).ToList();
            if (Extra > 0)
            {
                results.Add(results[0]);
            }
            else if (Extra < 0)
            {
                results.RemoveAt(results.Count - 1);
            }

            return results;
        }

        private static CallAdmissionResult Answer(CreditReservationRequest reservation)
        {
            var number = int.Parse(reservation.ReservationId["res_".Length..], System.Globalization.CultureInfo.InvariantCulture);
            return number % 2 == 0
                ? new CallAdmissionResult(CallAdmissionStatus.Admitted, [number], new CreditReservation
                {
                    Id = reservation.ReservationId,
                    AccountId = reservation.AccountId,
                    Amount = reservation.Amount,
                    IdempotencyKey = reservation.IdempotencyKey,
                    State = ReservationState.Active,
                    CreatedAt = reservation.CreatedAt,
                    ExpiresAt = reservation.ExpiresAt,
                })
                : new CallAdmissionResult(CallAdmissionStatus.Refused, [number], null);
        }
    }
}
