using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// The bounded queue between requests and <see cref="UsageLogWriter"/>. Enqueuing is synchronous while there is
/// room; when the queue is full the request waits for room (a record is never dropped); after shutdown began
/// records are written straight to the store.
/// </summary>
internal sealed class UsageLogQueue
{
    private readonly Channel<UsageRecord> _channel;
    private readonly IUsageStore _store;

    public UsageLogQueue(IOptions<UsageBillingOptions> options, IUsageStore store)
    {
        _store = store;
        _channel = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(options.Value.UsageLog.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public ChannelReader<UsageRecord> Reader => _channel.Reader;

    public ValueTask EnqueueAsync(UsageRecord record)
        => _channel.Writer.TryWrite(record) ? ValueTask.CompletedTask : EnqueueSlowAsync(record);

    public void Complete() => _channel.Writer.TryComplete();

    private async ValueTask EnqueueSlowAsync(UsageRecord record)
    {
        try
        {
            await _channel.Writer.WriteAsync(record).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // The writer has stopped (the host is shutting down): write this one directly.
            await _store.AppendAsync([record]).ConfigureAwait(false);
        }
    }
}
