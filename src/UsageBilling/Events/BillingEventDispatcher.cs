using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace UsageBilling;

/// <summary>
/// Delivers billing events to every <see cref="IBillingNotifier"/> off the request path. A handler that throws
/// is logged and the others still run; requests never wait for or fail because of delivery.
/// </summary>
internal sealed partial class BillingEventDispatcher : BackgroundService
{
    private readonly Channel<BillingEvent> _events = Channel.CreateBounded<BillingEvent>(new BoundedChannelOptions(10_000)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });

    private readonly IServiceProvider _services;
    private readonly ILogger<BillingEventDispatcher> _logger;

    public BillingEventDispatcher(IServiceProvider services, ILogger<BillingEventDispatcher> logger)
    {
        _services = services;
        _logger = logger;
    }

    public void Raise(BillingEvent billingEvent)
    {
        Log.Raised(_logger, billingEvent.Type, billingEvent.AccountId, billingEvent.Budget, billingEvent.ThresholdPercent);
        _events.Writer.TryWrite(billingEvent);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _events.Writer.TryComplete();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var billingEvent in _events.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var handler in _services.GetServices<IBillingNotifier>())
                {
                    try
                    {
                        await handler.NotifyAsync(billingEvent, stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                    {
                        Log.HandlerFailed(_logger, ex, handler.GetType().Name, billingEvent.Id);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Billing event {Type} for account {AccountId} (budget {Budget}, threshold {Threshold} %).", EventName = "BillingEventRaised")]
        public static partial void Raised(ILogger logger, string type, string accountId, string? budget, int? threshold);

        [LoggerMessage(2, LogLevel.Warning, "Billing event handler {Handler} failed for event {EventId}.", EventName = "BillingEventHandlerFailed")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string handler, string eventId);
    }
}
