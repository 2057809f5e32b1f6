using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Samples.Shared;

/// <summary>A setting the sample cannot start without, or with a value it does not know; the message names the setting.</summary>
internal sealed class SampleConfigurationException(string message) : Exception(message);

/// <summary>How the samples start: a "ready" line once they listen, and one line naming the setting (exit code 1) when they cannot.</summary>
internal static class SampleStartup
{
    /// <summary>The host's log category; it logs a failed start (with the exception and its stack) before <c>Run</c> throws it.</summary>
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    /// <summary>
    /// Creates the builder, lets <paramref name="configure"/> build the app, and runs it. A configuration mistake or an
    /// unreachable store is one line on standard error and exit code 1; until the app has started, the host's own error
    /// log of that failure (a stack dump) is left out. Any other failure is thrown as it is.
    /// </summary>
    public static int Run(string name, string[] args, Func<WebApplicationBuilder, WebApplication> configure)
    {
        var started = new StrongBox<bool>();
        WebApplication app;
        try
        {
            var builder = WebApplication.CreateBuilder(args);
            builder.Logging.AddFilter((category, level) => Volatile.Read(ref started.Value) || category != HostCategory || level < LogLevel.Error);
            app = configure(builder);
        }
        catch (SampleConfigurationException ex)
        {
            Console.Error.WriteLine($"{name} cannot start: {ex.Message}");
            return 1;
        }

        var server = app.Services.GetRequiredService<IServer>();
        var store = app.Configuration["Billing:Store"] ?? "Sqlite";
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            Volatile.Write(ref started.Value, true);
            if (app.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return;
            }

            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            Console.WriteLine($"{name} ready: listening on {string.Join(", ", addresses)} (GET /health answers when billing works).");
        });
        try
        {
            app.Run();
            return 0;
        }
        catch (Exception ex) when (Find<SampleConfigurationException>(ex) is { } configuration)
        {
            // A setting read only when the store is first used (a connection string, for example).
            Console.Error.WriteLine($"{name} cannot start: {configuration.Message}");
            return 1;
        }
        catch (Exception ex) when (IsStoreUnreachable(ex))
        {
            Console.Error.WriteLine($"{name} cannot start: the billing store (Billing:Store={store}, ConnectionStrings:Billing) could not be reached: {Innermost(ex).Message}");
            return 1;
        }
    }

    private static bool IsStoreUnreachable(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is SocketException or TimeoutException || e.GetType().Name is "NpgsqlException" or "PostgresException" or "SqliteException" or "MongoException"
                || e.GetType().BaseType?.Name is "MongoException" or "MongoConnectionException" or "DbException")
            {
                return true;
            }
        }

        return false;
    }

    private static T? Find<T>(Exception ex) where T : Exception
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }

        return null;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
