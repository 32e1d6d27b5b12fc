%% The brigade (CONTRACT.md, "Task i"): Joe Armstrong's ring, the BEAM's own classic — a
%% process per task, each sending the token to the next as a message. A hand-off copies a
%% small term into the next process's mailbox and makes it runnable on a scheduler: no
%% system call, unless an idle scheduler thread has to be woken (a futex) to run it.
-module(conclab_brigade).
-export([run/2]).

%% The ring of `tasks` processes, `laps` tokens each; every task's result, in task order.
run(A = #{tasks := N, laps := Laps}, Main) ->
    H = N * Laps,
    Pids = [conclab:start(fun() -> link(A, Id, H, Laps, Main) end, N) || Id <- lists:seq(0, N - 1)],
    [P ! {next, Next} || {P, Next} <- lists:zip(Pids, tl(Pids) ++ [hd(Pids)])],
    hd(Pids) ! {token, 0},
    collect(N, []).

link(A, Id, H, Laps, Main) ->
    receive {next, Next} -> ok end,
    Started = erlang:monotonic_time(nanosecond),
    Value = laps(Laps, 0, Next, H),
    Main ! conclab:finished(A, Id, Value, Started).

laps(0, Sum, _, _) -> Sum;
laps(Left, Sum, Next, H) ->
    receive
        {token, C} ->
            C + 1 < H andalso (Next ! {token, C + 1}),
            laps(Left - 1, Sum + C, Next, H)
    end.

collect(0, Acc) -> lists:keysort(2, Acc);
collect(Left, Acc) ->
    receive {result, _, _, _, _, _} = R -> collect(Left - 1, [R | Acc]) end.
