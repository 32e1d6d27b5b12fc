%% erlang-processes: the conclab contract on the BEAM — a process per task.
%%
%% What it shows: the actor model the article never reaches. A BEAM process is not an OS
%% process or thread: it is the runtime's own, a few hundred words of heap and stack, run by
%% one scheduler thread a core that preempts it after a budget of reductions (function
%% calls), so no process can hold a core as a blocking call or a busy loop holds a thread.
%% Processes share nothing: they send messages. A sleep is `receive after Ms`, a timer in the
%% scheduler; a socket is a port the runtime polls (epoll, its own poll thread); a SHA-256
%% chain runs in the process, preempted between hashes.
%%
%% What it costs: a process starts at 338 words (2.6 KiB on 64-bit); the report's peak RSS
%% over N says what one holds while it waits. Where it stops: the process table, set with
%% +P (run.sh sets 1,048,576), and memory. What strace -f -c shows: futex between the
%% schedulers, epoll_wait from the poll thread, and no clone per task.
%%
%% It runs sleep, http, cpu and brigade, and serves (conclab_serve.erl); disk, db and crawl
%% are left out (roster.toml says why). Run: scripts/peers/erlang/run.sh --tasks 100000
-module(conclab).
-export([main/0, reject/1, model/0, json/1, usage/0, proc_usage/0, finish/1, finished/4, start/2]).

-define(MOST_MS, 86400000).
-define(MOST_WORKERS, 4194304).
-define(WORKLOADS, ["sleep", "http", "cpu", "disk", "brigade", "db", "crawl"]).

model() -> "erlang-processes".

usage() ->
    "Usage: " ++ model() ++ " [--workload sleep|http|cpu|brigade] [--tasks N] [--ms MS] [--work K]"
    " [--addr HOST:PORT] [--workers W] [--timeout-ms T] [--laps L] [--serve HOST:PORT]"
    " [--timeline FILE] [--json] [--verbose]".

main() ->
    [io:setopts(Device, [{encoding, unicode}]) || Device <- [standard_io, standard_error]],
    Args = parse(init:get_plain_arguments()),
    case maps:get(serve, Args) of
        undefined ->
            %% A run dies of SIGTERM, as any program does; the BEAM's own default would stop
            %% it cleanly, with status 0.
            os:set_signal(sigterm, default),
            finish(run(Args));
        _ -> finish(conclab_serve:run(Args))
    end.

%% Flush what was printed, then end with Status.
finish(Status) ->
    erlang:halt(Status, [{flush, true}]).

%% ---- the command line (CONTRACT.md, "The command line") --------------------------------

reject(Reason) ->
    %% An argument with an '@' that the reason echoes may hold a password: shown masked.
    Masked = lists:foldl(
        fun(Arg, R) ->
            case lists:member($@, Arg) of
                true -> string:replace(R, Arg, mask(Arg), all);
                false -> R
            end
        end, Reason, init:get_plain_arguments()),
    io:format(standard_error, "Error: ~ts~n~n~ts~n", [Masked, usage()]),
    finish(2).

%% From the first ':' after the scheme's "//" (or the start) to the last '@', "***".
mask(Text) ->
    {Head, Tail} = case string:split(Text, "@", trailing) of
        [H, T] -> {H, "@" ++ T};
        [H] -> {H, ""}
    end,
    Start = case string:find(Head, "://") of
        nomatch -> 0;
        Rest -> length(Head) - length(Rest) + 3
    end,
    case string:chr(lists:nthtail(Start, Head), $:) of
        0 -> Text;
        Colon -> lists:sublist(Head, Start + Colon - 1) ++ ":***" ++ Tail
    end.

switches() -> ["json", "verbose", "buffered", "write", "offload", "version"].

%% Each flag: the workloads it belongs to ([]: every one), whether --serve takes it, and
%% the words that say where it belongs. The Rust models' rules.
rules() ->
    Disk = {["disk"], false, "to the disk workload"},
    #{"tasks" => {[], false, "to running tasks"},
      "workload" => {[], false, "to running tasks"},
      "timeline" => {[], false, "to running tasks: it records each task's span"},
      "verbose" => {[], false, "to running tasks: it names each finished task"},
      "ms" => {["sleep", "http", "db"], false, "to the sleep, http and db workloads"},
      "work" => {["cpu"], false, "to the cpu workload (a server's /cpu takes work=K)"},
      "addr" => {["http"], false, "to the http workload"},
      "timeout-ms" => {["http", "db", "crawl"], true, "to the http, db and crawl workloads and --serve"},
      "file" => Disk, "file-size" => Disk, "bytes" => Disk, "buffered" => Disk,
      "write" => {["disk", "db"], false, "to the disk and db workloads"},
      "laps" => {["brigade"], false, "to the brigade workload"},
      "seed" => {["crawl"], false, "to the crawl workload"},
      "allow" => {["crawl"], false, "to the crawl workload"},
      "per-host" => {["crawl"], false, "to the crawl workload"},
      "db-url" => {["db"], false, "to the db workload"},
      "rows" => {["db"], false, "to the db workload"},
      "workers" => {[], true, ""}, "serve" => {[], true, ""}, "json" => {[], true, ""}}.

%% The flags given, as a map of name => value ("" for a switch), in the order given.
flags([], Acc) -> lists:reverse(Acc);
flags(["--" ++ Flag | Rest], Acc) when Flag =/= "" ->
    {Name, Inline} = case string:split(Flag, "=") of
        [N, V] -> {N, V};
        [N] -> {N, none}
    end,
    Known = maps:is_key(Name, rules()) orelse lists:member(Name, switches()),
    Known orelse reject("unknown flag --" ++ Name),
    case {lists:member(Name, switches()), Inline, Rest} of
        {true, none, _} -> flags(Rest, [{Name, ""} | Acc]);
        {true, _, _} -> reject("--" ++ Name ++ " takes no value");
        {false, none, [Value | More]} -> flags(More, [{Name, Value} | Acc]);
        {false, none, []} -> reject("--" ++ Name ++ " needs a value");
        {false, Value, _} -> flags(Rest, [{Name, Value} | Acc])
    end;
flags([Other | _], _) ->
    reject("unexpected argument \"" ++ Other ++ "\"").

parse(Argv) ->
    Given = flags(Argv, []),
    Get = fun(Name, Default) -> proplists:get_value(Name, Given, Default) end,
    Has = fun(Name) -> proplists:is_defined(Name, Given) end,
    Has("version") andalso begin
        io:format("~s (Erlang/OTP ~s)~n", [model(), erlang:system_info(otp_release)]),
        finish(0)
    end,
    Workload = Get("workload", "sleep"),
    Serve = Get("serve", undefined),
    lists:member(Workload, ?WORKLOADS) orelse
        reject("--workload: \"" ++ Workload ++ "\" is not one of " ++ lists:join(", ", ?WORKLOADS)),
    {Runs, Serves} = entry(model()),
    (Serve =:= undefined orelse Serves) orelse
        reject("--serve: " ++ model() ++ " does not serve (its roster.toml entry has no \"serve\" flag)"),
    (Serve =/= undefined orelse lists:member(Workload, Runs)) orelse
        reject("--workload " ++ Workload ++ ": " ++ model() ++ " runs " ++ lists:join(", ", Runs)
               ++ " (its roster.toml entry)"),
    [applies(Name, Workload, Serve =/= undefined) || {Name, _} <- Given],
    Has("offload") andalso
        reject("--offload: BEAM processes have no event loop to offload from; they already run on every core"),
    Tasks = number("tasks", Get("tasks", "10"), 1, 1 bsl 31 - 1),
    Workers0 = case Has("workers") of
        true ->
            W = number("workers", Get("workers", ""), 1, ?MOST_WORKERS),
            case Serve of undefined -> min(W, Tasks); _ -> W end;
        false -> 0
    end,
    (Workload =/= "brigade" orelse Workers0 =:= 0) orelse
        reject("--workers does not apply to the brigade: every task of the ring runs at once"),
    AddrText = Get("addr", "127.0.0.1:7878"),
    Addr = host_port("addr", AddrText),
    Serve =:= undefined orelse host_port("serve", Serve),
    Args = #{workload => Workload, tasks => Tasks, workers => Workers0,
             ms => number("ms", Get("ms", "1000"), 0, ?MOST_MS),
             work => number("work", Get("work", "100000"), 0, 1 bsl 63 - 1),
             timeout_ms => number("timeout-ms", Get("timeout-ms", "30000"), 1, ?MOST_MS),
             laps => number("laps", Get("laps", "100"), 1, 1 bsl 31 - 1),
             addr => Addr, addr_text => AddrText, serve => Serve,
             json => Has("json"), verbose => Has("verbose"),
             timeline => Get("timeline", undefined)},
    %% Nothing is written until every argument is accepted.
    case maps:get(timeline, Args) of
        undefined -> ok;
        File ->
            file:write_file(File, <<>>) =:= ok orelse reject("--timeline: cannot write " ++ File)
    end,
    Args.

applies(Name, Workload, Serving) ->
    {Workloads, ServeTakes, Belongs} = maps:get(Name, rules(), {[], true, ""}),
    Fits = case Serving of
        true -> ServeTakes;
        false -> Workloads =:= [] orelse lists:member(Workload, Workloads)
    end,
    Mode = case Serving of true -> "--serve"; false -> "the " ++ Workload ++ " workload" end,
    Fits orelse reject("--" ++ Name ++ " does not apply to " ++ Mode ++ ": it belongs " ++ Belongs).

number(Name, Text, Min, Most) ->
    case string:to_integer(Text) of
        {N, ""} when N < Min -> reject(io_lib:format("--~s: ~b is below ~b", [Name, N, Min]));
        {N, ""} when N > Most ->
            Day = case Most of ?MOST_MS -> " (a day)"; ?MOST_WORKERS -> " (PID_MAX_LIMIT, the most threads or processes Linux can run)"; _ -> "" end,
            reject(io_lib:format("--~s: ~b is above ~b~s", [Name, N, Most, Day]));
        {N, ""} -> N;
        _ -> reject("--" ++ Name ++ ": \"" ++ Text ++ "\" is not a whole number")
    end.

host_port(Name, Text) ->
    case string:split(Text, ":", trailing) of
        [Host, PortText] when Host =/= "" ->
            case string:to_integer(PortText) of
                {Port, ""} when Port >= 0, Port =< 65535 ->
                    {string:trim(Host, both, "[]"), Port};
                _ -> reject("--" ++ Name ++ ": \"" ++ Text ++ "\" is not HOST:PORT")
            end;
        _ -> reject("--" ++ Name ++ ": \"" ++ Text ++ "\" is not HOST:PORT")
    end.

%% This program's roster.toml entry: the workloads it runs, and whether it serves.
entry(Id) ->
    Path = case os:getenv("CONCLAB_ROSTER") of
        Env when is_list(Env), Env =/= "" -> Env;
        _ -> case init:get_argument(conclab_roster) of {ok, [[P]]} -> P; _ -> "roster.toml" end
    end,
    Lines = case file:read_file(Path) of
        {ok, Text} -> string:split(unicode:characters_to_list(Text), "\n", all);
        {error, Why} ->
            io:format(standard_error, "Error: cannot read ~s: ~s~n", [Path, file:format_error(Why)]),
            finish(1)
    end,
    case find_entry(Id, [string:trim(L) || L <- Lines], none, ?WORKLOADS, false) of
        {ok, Entry} -> Entry;
        missing ->
            io:format(standard_error, "Error: ~s has no [[program]] entry in ~s: add one (README, \"Adding a model or a peer\")~n", [Id, Path]),
            finish(1)
    end.

%% Enough TOML for the roster's own layout: `[[program]]` tables of `key = value` lines.
find_entry(Id, [], Id, Runs, Serves) -> {ok, {Runs, Serves}};
find_entry(_, [], _, _, _) -> missing;
find_entry(Id, [Line | Rest], Current, Runs, Serves) ->
    Table = Line =:= "[[program]]" orelse lists:prefix("[runtime", Line),
    case {Table, Current} of
        {true, Id} -> {ok, {Runs, Serves}};
        {true, _} -> find_entry(Id, Rest, none, ?WORKLOADS, false);
        _ ->
            case Line of
                "id = " ++ V -> find_entry(Id, Rest, unquote(V), Runs, Serves);
                "workloads = " ++ V -> find_entry(Id, Rest, Current, list(V), Serves);
                "flags = " ++ V -> find_entry(Id, Rest, Current, Runs, lists:member("serve", list(V)));
                _ -> find_entry(Id, Rest, Current, Runs, Serves)
            end
    end.

unquote(S) -> string:trim(string:trim(S), both, "\"").
list(S) -> [unquote(I) || I <- string:split(string:trim(string:trim(S), both, "[]"), ",", all), string:trim(I) =/= ""].

%% ---- a run of N tasks --------------------------------------------------------------------

%% A process per task, or W worker processes taking task ids in order; the main process
%% collects the results as they come. The exit status.
run(#{workload := "brigade"} = A) ->
    Start = erlang:monotonic_time(nanosecond),
    Sampler = sampler(),
    Results = conclab_brigade:run(A, self()),
    report(A, Results, Start, erlang:monotonic_time(nanosecond) - Start, maps:get(tasks, A), peak(Sampler));
run(A = #{tasks := N, workers := W0}) ->
    W = case W0 of 0 -> N; _ -> W0 end,
    Next = atomics:new(1, []),
    Main = self(),
    Start = erlang:monotonic_time(nanosecond),
    Worker = fun() -> work(A, Next, Main) end,
    [start(Worker, W) || _ <- lists:seq(1, W)],
    {Results, Sampler} = collect(N, [], sampler()),
    report(A, Results, Start, erlang:monotonic_time(nanosecond) - Start, W, peak(Sampler)).

%% A process running Fun, one of Count: past the process table (+P), exit 1 naming it.
start(Fun, Count) ->
    try spawn(Fun)
    catch error:system_limit ->
        io:format(standard_error, "Error: ~b processes cannot start: the BEAM's process table holds ~b"
                  " — limit to raise: +P in scripts/peers/erlang/run.sh~n",
                  [Count, erlang:system_info(process_limit)]),
        finish(1)
    end.

%% Take the next task id until none is left.
work(A = #{tasks := N}, Next, Main) ->
    case atomics:add_get(Next, 1, 1) - 1 of
        Id when Id < N ->
            Main ! task(A, Id),
            work(A, Next, Main);
        _ -> ok
    end.

collect(0, Acc, Sampler) -> {lists:keysort(2, Acc), Sampler};
collect(Left, Acc, Sampler) ->
    receive
        {result, _, _, _, _, _} = R -> collect(Left - 1, [R | Acc], sample(Sampler))
    end.

%% Task Id, run in the calling process: {result, Id, Value | {error, Why}, Started, Finished, Tid}.
task(A, Id) ->
    Started = erlang:monotonic_time(nanosecond),
    Value = case maps:get(workload, A) of
        "sleep" -> receive after maps:get(ms, A) -> Id + 100 end;
        "cpu" -> cpu(Id, maps:get(work, A));
        "http" -> conclab_http:get(A, Id)
    end,
    finished(A, Id, Value, Started).

finished(A, Id, Value, Started) ->
    Tid = case maps:get(verbose, A) orelse maps:get(timeline, A) =/= undefined of
        true -> tid();
        false -> 0
    end,
    {result, Id, Value, Started, erlang:monotonic_time(nanosecond), Tid}.

%% The cpu task: h = the 8-byte big-endian i, then K times SHA-256; the first 8 bytes.
cpu(Id, Rounds) ->
    <<Value:64/unsigned-big, _/binary>> = chain(<<Id:64/unsigned-big>>, Rounds),
    Value.

chain(H, 0) -> H;
chain(H, K) -> chain(crypto:hash(sha256, H), K - 1).

%% The OS thread of the scheduler running the caller. The schedulers are threads named
%% N_scheduler, found once in /proc/self/task.
tid() ->
    Tids = case persistent_term:get(conclab_tids, undefined) of
        undefined ->
            Found = maps:from_list(
                [{string:trim(read(T ++ "/comm")), list_to_integer(filename:basename(T))}
                 || T <- filelib:wildcard("/proc/self/task/*")]),
            persistent_term:put(conclab_tids, Found),
            Found;
        Known -> Known
    end,
    maps:get(integer_to_list(erlang:system_info(scheduler_id)) ++ "_scheduler", Tids, 0).

read(Path) ->
    case file:read_file(Path) of
        {ok, B} -> binary_to_list(B);
        _ -> ""
    end.

%% ---- /proc: what getrusage and num_threads would say ---------------------------------

%% The fields of /proc/self/stat after the command's name; none when it cannot be read
%% (out of descriptors, say): a figure missing, not a failed run.
stat() ->
    case string:split(read("/proc/self/stat"), ")", trailing) of
        [_, After] -> string:lexemes(After, " \n");
        _ -> []
    end.

%% Field `Number` of /proc/self/stat (3: state, the first after the name), or 0.
field(Stat, Number) when length(Stat) >= Number - 2 -> list_to_integer(lists:nth(Number - 2, Stat));
field(_, _) -> 0.

threads() -> field(stat(), 20).

sampler() -> {threads(), erlang:monotonic_time(millisecond)}.

sample({Peak, Last} = S) ->
    Now = erlang:monotonic_time(millisecond),
    case Now - Last >= 10 of
        true -> {max(Peak, threads()), Now};
        false -> S
    end.

peak({Peak, _}) -> max(Peak, threads()).

%% CPU times (to 10 ms) and peak RSS of this process; context switches summed over its
%% threads, which the BEAM keeps for its whole life.
proc_usage() ->
    S = stat(),
    Status = fun(File, Key) ->
        case [L || L <- string:split(read(File), "\n", all), lists:prefix(Key, L)] of
            [L | _] -> list_to_integer(hd(string:lexemes(lists:nthtail(length(Key), L), " \tkB")));
            [] -> 0
        end
    end,
    Tasks = filelib:wildcard("/proc/self/task/*/status"),
    #{user_s => (field(S, 14) + field(S, 16)) / 100,
      sys_s => (field(S, 15) + field(S, 17)) / 100,
      max_rss_kib => Status("/proc/self/status", "VmHWM:"),
      voluntary => lists:sum([Status(T, "voluntary_ctxt_switches:") || T <- Tasks]),
      involuntary => lists:sum([Status(T, "nonvoluntary_ctxt_switches:") || T <- Tasks])}.

%% ---- the report (CONTRACT.md, "The report") ----------------------------------------------

report(A, Results, Start, WallNs, Workers, PeakThreads) ->
    #{workload := Workload, tasks := N, ms := Ms} = A,
    Pid = list_to_integer(os:getpid()),
    At = fun(T) -> (T - Start) / 1.0e9 end,
    Failed = [R || {result, _, {error, _}, _, _, _} = R <- Results],
    Ok = [R || {result, _, V, _, _, _} = R <- Results, is_integer(V)],
    maps:get(verbose, A) andalso
        [case V of
             {error, Why} -> io:format(standard_error, "task ~b failed: ~ts · pid ~b tid ~b · at ~.4f s~n", [Id, Why, Pid, Tid, At(F)]);
             _ -> io:format(standard_error, "task ~b value ~b · pid ~b tid ~b · at ~.4f s~n", [Id, V, Pid, Tid, At(F)])
         end || {result, Id, V, _, F, Tid} <- Results],
    case maps:get(timeline, A) of
        undefined -> ok;
        File ->
            Lines = [io_lib:format("{\"id\":~b,\"start\":~.9f,\"end\":~.9f,\"pid\":~b,\"tid\":~b}~n",
                                   [Id, At(S), At(F), Pid, Tid]) || {result, Id, _, S, F, Tid} <- Results],
            file:write_file(File, Lines)
    end,
    Checksum = lists:foldl(fun({result, _, V, _, _, _}, Sum) -> (Sum + V) band (1 bsl 64 - 1) end, 0, Ok),
    FirstError = case Failed of [] -> null; [{result, _, {error, E}, _, _, _} | _] -> unicode:characters_to_binary(E) end,
    U = proc_usage(),
    Wall = WallNs / 1.0e9,
    Timed = Workload =:= "sleep" orelse Workload =:= "http",
    Ideal = case Timed of true -> math:ceil(N / Workers) * Ms / 1000; false -> null end,
    Finished = lists:sort([At(F) || {result, _, _, _, F, _} <- Ok]),
    Lateness = case Timed of true -> lateness(Finished, Workers, Ms / 1000); false -> null end,
    R0 = [{model, list_to_binary(model())}, {workload, list_to_binary(Workload)}, {tasks, N},
          {workers, Workers}, {concurrency, Workers}, {ms, case Timed of true -> Ms; false -> null end},
          {work, case Workload of "cpu" -> maps:get(work, A); _ -> null end}, {offload, false},
          {ok, length(Ok)}, {failed, length(Failed)}, {checksum, Checksum}, {wall_s, Wall},
          {ideal_s, Ideal}, {user_s, maps:get(user_s, U)}, {sys_s, maps:get(sys_s, U)},
          {max_rss_kib, maps:get(max_rss_kib, U)}, {children_max_rss_kib_sum, 0},
          {voluntary_ctx_switches, maps:get(voluntary, U)},
          {involuntary_ctx_switches, maps:get(involuntary, U)}, {lateness_ms, Lateness},
          {loop_lag_ms, null}, {first_error, FirstError}, {peak_threads, PeakThreads},
          {iops, null}, {latency_ms, null}, {qps, null}],
    R = case Workload of
        "brigade" ->
            H = N * maps:get(laps, A),
            R0 ++ [{laps, maps:get(laps, A)}, {handoffs, H}, {ns_per_handoff, WallNs / H},
                   {voluntary_per_handoff, maps:get(voluntary, U) / H},
                   {involuntary_per_handoff, maps:get(involuntary, U) / H},
                   {user_ns_per_handoff, maps:get(user_s, U) * 1.0e9 / H},
                   {sys_ns_per_handoff, maps:get(sys_s, U) * 1.0e9 / H}];
        _ -> R0
    end,
    case maps:get(json, A) of
        true -> io:format("~ts~n", [json(R)]);
        false ->
            Noun = case N of 1 -> "task"; _ -> "tasks" end,
            IdealText = case Ideal of null -> ""; _ -> io_lib:format(" (ideal ~.4f s)", [float(Ideal)]) end,
            Handoff = case Workload of "brigade" -> io_lib:format(" · ~b ns a hand-off", [round(WallNs / (N * maps:get(laps, A)))]); _ -> "" end,
            FailedText = case Failed of [] -> ""; _ -> io_lib:format(" · ~b failed", [length(Failed)]) end,
            io:format("~s · ~s · ~b ~s · ~.4f s~s · peak RSS ~.1f MiB~s · checksum ~b~s~n",
                      [model(), Workload, N, Noun, Wall, IdealText, maps:get(max_rss_kib, U) / 1024,
                       Handoff, Checksum, FailedText])
    end,
    case Failed of
        [] -> 0;
        _ ->
            io:format(standard_error, "Error: ~b of ~b tasks failed; the first: ~ts~n", [length(Failed), N, FirstError]),
            1
    end.

%% The k-th finish against the ideal schedule, where round k div concurrency ends at
%% (round + 1) × each; nearest-rank p50, p99 and max, as the Rust models compute them.
lateness([], _, _) -> null;
lateness(Finished, Concurrency, Each) ->
    Late = [(T - (K div Concurrency + 1) * Each) * 1000 || {K, T} <- lists:zip(lists:seq(0, length(Finished) - 1), Finished)],
    percentiles(lists:sort(Late)).

percentiles(Sorted) ->
    Len = length(Sorted),
    Pick = fun(Q) -> lists:nth(max(1, min(ceil(Q * Len), Len)), Sorted) end,
    Round = fun(V) -> round(V * 1000) / 1000 end,
    [{p50, Round(Pick(0.5))}, {p99, Round(Pick(0.99))}, {max, Round(lists:last(Sorted))}].

%% Enough JSON for the report: a proplist of atoms to numbers, binaries, booleans, null,
%% and proplists.
json(null) -> "null";
json(true) -> "true";
json(false) -> "false";
json(V) when is_integer(V) -> integer_to_list(V);
json(V) when is_float(V) -> float_to_list(V, [short]);
json(V) when is_binary(V) -> [$", escape(unicode:characters_to_list(V)), $"];
json(V) when is_list(V) ->
    [${, lists:join(",", [[$", atom_to_list(K), $", $:, json(X)] || {K, X} <- V]), $}].

escape(S) ->
    lists:map(fun($") -> "\\\""; ($\\) -> "\\\\"; ($\n) -> "\\n"; ($\r) -> "\\r";
                 (C) when C < 16#20 -> io_lib:format("\\u~4.16.0b", [C]); (C) -> C end, S).
