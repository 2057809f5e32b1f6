using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>A usage record the store refused on its own, set aside by <see cref="UsageDeadLetters"/>.</summary>
/// <param name="Record">The record, as it was queued.</param>
/// <param name="DeadLetteredAt">When it was set aside.</param>
/// <param name="Error">The type of the exception the store threw.</param>
/// <param name="Message">The exception's message.</param>
internal sealed record DeadLetteredRecord(UsageRecord Record, DateTimeOffset DeadLetteredAt, string Error, string Message);

/// <summary>
/// Usage records the store refused alone while it accepted others (for example a value the database cannot hold):
/// each is logged as an error (its request, account and key ids, never its content), counted in
/// <c>usagebilling.usage_log.dead_lettered</c>, kept in memory (the last <see cref="Capacity"/>) for inspection and,
/// when <see cref="UsageLogOptions.DeadLetterDirectory"/> is set, appended to <see cref="FileName"/> there as one JSON
/// object per line, so that it can be corrected and written again.
/// </summary>
internal sealed partial class UsageDeadLetters
{
    /// <summary>How many dead-lettered records are kept in memory; older ones are forgotten (the file keeps them all).</summary>
    internal const int Capacity = 1_000;

    /// <summary>The JSON-lines file in <see cref="UsageLogOptions.DeadLetterDirectory"/>.</summary>
    internal const string FileName = "usage-dead-letters.jsonl";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Queue<DeadLetteredRecord> _records = new();
    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly UsageBillingMetrics _metrics;
    private readonly ILogger<UsageDeadLetters> _logger;
    private readonly string? _directory;
    private long _total;

    public UsageDeadLetters(TimeProvider timeProvider, UsageBillingMetrics metrics, ILogger<UsageDeadLetters> logger, IOptions<UsageBillingOptions> options)
    {
        _timeProvider = timeProvider;
        _metrics = metrics;
        _logger = logger;
        _directory = options.Value.UsageLog.DeadLetterDirectory is { Length: > 0 } directory ? directory : null;
    }

    /// <summary>How many records were dead-lettered since start.</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>The path of the dead-letter file, or <see langword="null"/> when records are kept only in memory.</summary>
    public string? FilePath => _directory is null ? null : Path.Combine(_directory, FileName);

    /// <summary>The last <see cref="Capacity"/> dead-lettered records, oldest first.</summary>
    public IReadOnlyList<DeadLetteredRecord> Snapshot()
    {
        lock (_lock)
        {
            return [.. _records];
        }
    }

    /// <summary>Sets <paramref name="record"/> aside because the store refused it with <paramref name="error"/>.</summary>
    public void Add(UsageRecord record, Exception error)
    {
        var letter = new DeadLetteredRecord(record, _timeProvider.GetUtcNow(), error.GetType().FullName ?? error.GetType().Name, error.Message);
        lock (_lock)
        {
            _records.Enqueue(letter);
            if (_records.Count > Capacity)
            {
                _records.Dequeue();
            }
        }

        Interlocked.Increment(ref _total);
        _metrics.UsageDeadLettered();
        Log.DeadLettered(_logger, error, record.RequestId, record.AccountId, record.KeyId, FilePath ?? "memory only");
        if (FilePath is { } path)
        {
            Append(path, letter);
        }
    }

    private void Append(string path, DeadLetteredRecord letter)
    {
        var line = JsonSerializer.Serialize(letter, Json) + "\n";
        try
        {
            lock (_lock)
            {
                Directory.CreateDirectory(_directory!);
                File.AppendAllText(path, line);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.FileFailed(_logger, ex, letter.Record.RequestId, path);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error,
            "The usage store refused record {RequestId} (account {AccountId}, key {KeyId}) on its own while it accepted others; the record is dead-lettered ({DeadLetterFile}) and not in the usage log.",
            EventName = "UsageRecordDeadLettered")]
        public static partial void DeadLettered(ILogger logger, Exception exception, string requestId, string? accountId, string? keyId, string deadLetterFile);

        [LoggerMessage(2, LogLevel.Error, "Writing dead-lettered usage record {RequestId} to {Path} failed; it is kept in memory only.", EventName = "UsageDeadLetterFileFailed")]
        public static partial void FileFailed(ILogger logger, Exception exception, string requestId, string path);
    }
}
