using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PagedAttention.Bench.ScaleOut;

/// <summary>One PagedAttention.Server process on a loopback port; its output goes to a log file.</summary>
internal sealed class ReplicaProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ReplicaProcess(Process process, string address, string logPath, StreamWriter log)
    {
        _process = process;
        Address = address;
        LogPath = logPath;
        _log = log;
    }

    public string Address { get; }

    public string LogPath { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <c>dotnet SERVER.dll --urls http://127.0.0.1:PORT [extra]</c>.</summary>
    public static ReplicaProcess Start(string serverDll, IReadOnlyList<string> extraArgs, IReadOnlyList<string> environment, string logDirectory, int index)
    {
        var port = FreePort();
        var address = $"http://127.0.0.1:{port}";
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(serverDll)!,
        };
        info.ArgumentList.Add(serverDll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(address);
        foreach (var a in extraArgs)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var pair in environment)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ArgumentException($"--server-env wants K=V, got '{pair}'.");
            }

            info.Environment[pair[..eq]] = pair[(eq + 1)..];
        }

        var logPath = Path.Combine(logDirectory, $"replica{index}.log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ReplicaProcess(process, address, logPath, log);
    }

    /// <summary>Waits until <c>/health</c> answers 200; throws with the log's path if the process exits or time runs out.</summary>
    public async Task WaitHealthyAsync(HttpClient http, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"replica {Address} exited with {_process.ExitCode}; see {LogPath}");
            }

            try
            {
                using var response = await http.GetAsync($"{Address}/health").ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"replica {Address} not healthy after {timeout}; see {LogPath}");
            }

            await Task.Delay(250).ConfigureAwait(false);
        }
    }

    /// <summary>Kills the process (SIGKILL): its connections reset and its port refuses.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
