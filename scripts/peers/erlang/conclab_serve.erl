%% erlang-processes --serve: gen_tcp, a process per connection.
%%
%% The server Erlang programmers write by hand: one acceptor process, and for each accepted
%% socket a process that owns it and reads its requests with `gen_tcp:recv` — a receive, so
%% a connection that waits costs its process's few words, and a /query delay is `receive
%% after`. SIGTERM reaches the runtime's signal server (os:set_signal), which tells this
%% module (a gen_event handler): the server stops accepting, closes the idle connections,
%% lets the requests in flight finish, reports and halts with 0.
-module(conclab_serve).
-behaviour(gen_event).
-export([run/1]).
-export([init/1, handle_event/2, handle_call/2, handle_info/2, terminate/2, code_change/3]).

-define(MAX_HEAD, 8192).
-define(MOST_ID, 4294967295).

run(A = #{serve := Serve, timeout_ms := T}) ->
    {Host, Port} = conclab_args_host(Serve),
    Options = [binary, {active, false}, {packet, raw}, {reuseaddr, true}, {backlog, 4096}],
    Bind = case Host of "0.0.0.0" -> []; _ -> [{ifaddr, ip(Host)}] end,
    case gen_tcp:listen(Port, Bind ++ Options) of
        {ok, L} ->
            {ok, {Ip, Bound}} = inet:sockname(L),
            Addr = inet:ntoa(Ip) ++ ":" ++ integer_to_list(Bound),
            Counts = counters:new(6, [write_concurrency]),
            ets:new(conclab_conns, [named_table, public, set]),
            os:set_signal(sigterm, handle),
            %% In place of the runtime's own handler, which logs the signal and stops the
            %% node at once.
            gen_event:swap_handler(erl_signal_server, {erl_signal_handler, []}, {?MODULE, self()}),
            Start = erlang:monotonic_time(nanosecond),
            io:format("listening on ~s~n", [Addr]),
            Main = self(),
            Acceptor = spawn_link(fun() -> accept(L, Counts, T, Main) end),
            receive stop -> ok end,
            unlink(Acceptor),
            exit(Acceptor, kill),
            gen_tcp:close(L),
            stop(A, Addr, Counts, Start);
        {error, Why} ->
            io:format(standard_error, "Error: ~ts~n", [cannot_listen(Serve, Host, Port, Why)]),
            1
    end.

conclab_args_host(Text) ->
    [H, P] = string:split(Text, ":", trailing),
    {string:trim(H, both, "[]"), list_to_integer(P)}.

ip(Host) ->
    case inet:parse_address(Host) of
        {ok, Ip} -> Ip;
        _ -> case inet:getaddr(Host, inet) of {ok, Ip} -> Ip; _ -> {255, 255, 255, 255} end
    end.

%% The counters: connections, requests (200), rejected (4xx), errors, refused, open.
-define(CONNECTIONS, 1).
-define(REQUESTS, 2).
-define(REJECTED, 3).
-define(ERRORS, 4).
-define(REFUSED, 5).

accept(L, Counts, T, Main) ->
    case gen_tcp:accept(L) of
        {ok, S} ->
            counters:add(Counts, ?CONNECTIONS, 1),
            Pid = spawn(fun() -> receive go -> connection(S, Counts, T, <<>>, deadline(T)) end end),
            ok = gen_tcp:controlling_process(S, Pid),
            ets:insert(conclab_conns, {Pid, idle}),
            Pid ! go,
            accept(L, Counts, T, Main);
        {error, closed} -> ok;
        {error, Why} ->
            refusing(Why),
            receive after 10 -> ok end,
            accept(L, Counts, T, Main)
    end.

%% Name a limit met, at most once a second.
refusing(Why) ->
    Now = erlang:monotonic_time(millisecond),
    case Now - persistent_term:get(conclab_refused_at, -1000) >= 1000 of
        true ->
            persistent_term:put(conclab_refused_at, Now),
            Limit = case Why of emfile -> " — limit to raise: RLIMIT_NOFILE (`ulimit -n`)"; _ -> "" end,
            io:format(standard_error, "refusing connections: ~s~s~n", [inet:format_error(Why), Limit]);
        false -> ok
    end.

deadline(T) -> erlang:monotonic_time(millisecond) + T.

%% A connection's requests, one after another, until it closes, is too slow, or the server
%% stops.
connection(S, Counts, T, Buffer, Deadline) ->
    case binary:match(Buffer, <<"\r\n\r\n">>) of
        {End, 4} when End + 4 =< ?MAX_HEAD ->
            ets:insert(conclab_conns, {self(), busy}),
            <<Head:End/binary, _:4/binary, Rest/binary>> = Buffer,
            Open = request(S, Counts, Head),
            ets:insert(conclab_conns, {self(), idle}),
            case Open andalso not stopping() of
                true -> connection(S, Counts, T, Rest, deadline(T));
                false -> close(S)
            end;
        Found when Found =/= nomatch; byte_size(Buffer) >= ?MAX_HEAD ->
            answer(S, Counts, 431, <<"{\"error\":\"request head over 8 KiB\"}">>, true),
            close(S);
        nomatch ->
            Left = Deadline - erlang:monotonic_time(millisecond),
            case Left > 0 andalso gen_tcp:recv(S, 0, Left) of
                {ok, More} -> connection(S, Counts, T, <<Buffer/binary, More/binary>>, Deadline);
                {error, closed} when Buffer =:= <<>> -> close(S);
                _ -> counters:add(Counts, ?ERRORS, 1), close(S) % too slow, cut short, or reset
            end
    end.

close(S) ->
    gen_tcp:close(S),
    ets:delete(conclab_conns, self()).

stopping() -> persistent_term:get(conclab_stopping, false).

%% Answer one request's head; whether the connection stays open.
request(S, Counts, Head) ->
    [Line | Fields] = binary:split(Head, <<"\r\n">>, [global]),
    Bad = fun() -> answer(S, Counts, 400, <<"{\"error\":\"bad request\"}">>, true) end,
    case {binary:split(Line, <<" ">>, [global]), fields(Fields, <<>>)} of
        {[<<"GET">>, <<"/", _/binary>> = Target, Version], {ok, Connection}}
          when Version =:= <<"HTTP/1.1">>; Version =:= <<"HTTP/1.0">> ->
            Close = case Version of
                <<"HTTP/1.0">> -> Connection =/= <<"keep-alive">>;
                _ -> Connection =:= <<"close">>
            end,
            route(S, Counts, uri_string:parse(Target), Close);
        _ -> Bad()
    end.

%% The Connection field, or bad: a head line that is not a field, or a body announced.
fields([], Connection) -> {ok, Connection};
fields([F | Rest], Connection) ->
    case binary:split(F, <<":">>) of
        [Name, Value] when Name =/= <<>> ->
            N = string:lowercase(string:trim(Name)),
            V = string:lowercase(string:trim(Value)),
            Body = N =:= <<"transfer-encoding">> orelse
                   (N =:= <<"content-length">> andalso string:trim(V, leading, "0") =/= <<>>),
            case {Body, N} of
                {true, _} -> bad;
                {false, <<"connection">>} -> fields(Rest, V);
                _ -> fields(Rest, Connection)
            end;
        _ -> bad
    end.

route(S, Counts, #{path := Path} = Uri, Close) ->
    Params = case maps:get(query, Uri, <<>>) of
        <<>> -> [];
        Q -> [case binary:split(P, <<"=">>) of [K, V] -> {K, V}; [K] -> {K, <<>>} end
              || P <- binary:split(Q, <<"&">>, [global])]
    end,
    Number = fun(Name, Default, Most) ->
        case lists:keyfind(Name, 1, Params) of
            false when Default >= 0 -> {ok, Default};
            false -> bad;
            {_, Text} ->
                case re:run(Text, <<"^[0-9]{1,19}$">>) of
                    {match, _} -> case binary_to_integer(Text) of N when N =< Most -> {ok, N}; _ -> bad end;
                    nomatch -> bad
                end
        end
    end,
    Refuse = fun(Name, Most) ->
        Why = io_lib:format("~s needs ~s, a whole number from 0 to ~b", [Path, Name, Most]),
        answer(S, Counts, 400, ["{\"error\":", conclab:json(iolist_to_binary(Why)), "}"], true)
    end,
    TakesId = Path =:= <<"/query">> orelse Path =:= <<"/cpu">>,
    case {Path, TakesId andalso Number(<<"id">>, -1, ?MOST_ID)} of
        {_, bad} -> Refuse("id", ?MOST_ID);
        {<<"/health">>, _} -> answer(S, Counts, 200, <<"{\"status\":\"ok\"}">>, Close);
        {<<"/query">>, {ok, Id}} ->
            case Number(<<"delay_ms">>, 0, 60000) of
                {ok, Delay} ->
                    receive after Delay -> ok end,
                    answer(S, Counts, 200, io_lib:format("{\"id\":~b,\"value\":~b}", [Id, Id + 100]), Close);
                bad -> Refuse("delay_ms", 60000)
            end;
        {<<"/cpu">>, {ok, Id}} ->
            case Number(<<"work">>, 100000, 10000000) of
                {ok, Work} ->
                    <<V:64/unsigned-big, _/binary>> = chain(<<Id:64/unsigned-big>>, Work),
                    answer(S, Counts, 200, io_lib:format("{\"id\":~b,\"value\":~b}", [Id, V]), Close);
                bad -> Refuse("work", 10000000)
            end;
        _ -> answer(S, Counts, 404, <<"{\"error\":\"not found\"}">>, Close)
    end.

chain(H, 0) -> H;
chain(H, K) -> chain(crypto:hash(sha256, H), K - 1).

%% Write one answer; whether the connection stays open after it.
answer(S, Counts, Status, Body, Close0) ->
    Close = Close0 orelse stopping(),
    counters:add(Counts, case Status of 200 -> ?REQUESTS; _ -> ?REJECTED end, 1),
    Reason = case Status of
        200 -> "OK"; 400 -> "Bad Request"; 404 -> "Not Found"; 431 -> "Request Header Fields Too Large"
    end,
    Bytes = iolist_to_binary(Body),
    Head = io_lib:format("HTTP/1.1 ~b ~s\r\nContent-Type: application/json\r\nContent-Length: ~b\r\n~s\r\n",
                         [Status, Reason, byte_size(Bytes), case Close of true -> "Connection: close\r\n"; false -> "" end]),
    case gen_tcp:send(S, [Head, Bytes]) of
        ok -> not Close;
        {error, _} -> counters:add(Counts, ?ERRORS, 1), false
    end.

%% SIGTERM: close the idle connections, wait for the busy ones, report.
stop(A, Addr, Counts, Start) ->
    persistent_term:put(conclab_stopping, true),
    [exit(Pid, kill) || {Pid, idle} <- ets:tab2list(conclab_conns)],
    wait_for_busy(),
    U = conclab:proc_usage(),
    Wall = (erlang:monotonic_time(nanosecond) - Start) / 1.0e9,
    Get = fun(I) -> counters:get(Counts, I) end,
    R = [{model, list_to_binary(conclab:model())}, {serve, list_to_binary(Addr)}, {workers, erlang:system_info(schedulers)},
         {offload, false}, {connections, Get(?CONNECTIONS)}, {requests, Get(?REQUESTS)},
         {rejected, Get(?REJECTED)}, {errors, Get(?ERRORS)}, {refused, Get(?REFUSED)},
         {wall_s, Wall}, {user_s, maps:get(user_s, U)}, {sys_s, maps:get(sys_s, U)},
         {max_rss_kib, maps:get(max_rss_kib, U)}, {children_max_rss_kib, 0},
         {voluntary_ctx_switches, maps:get(voluntary, U)}, {involuntary_ctx_switches, maps:get(involuntary, U)}],
    case maps:get(json, A) of
        true -> io:format("~ts~n", [conclab:json(R)]);
        false ->
            Counted = fun(N, Noun) -> io_lib:format("~b ~s~s", [N, Noun, case N of 1 -> ""; _ -> "s" end]) end,
            io:format("~s · served ~s on ~s · ~b answered 4xx · ~s · ~.3f s · peak RSS ~.1f MiB~n",
                      [conclab:model(), Counted(Get(?REQUESTS), "request"), Counted(Get(?CONNECTIONS), "connection"),
                       Get(?REJECTED), Counted(Get(?ERRORS), "error"), Wall, maps:get(max_rss_kib, U) / 1024])
    end,
    0.

wait_for_busy() ->
    case [P || {P, busy} <- ets:tab2list(conclab_conns), is_process_alive(P)] of
        [] -> ok;
        _ -> receive after 5 -> wait_for_busy() end
    end.

%% Why a bind refused the address, in the Rust models' words, with what to do.
cannot_listen(Text, Host, Port, Why) ->
    Reason = io_lib:format("cannot listen on ~s: ~s", [Text, inet:format_error(Why)]),
    case Why of
        eaddrnotavail -> [Reason, " — ", Host, " is not an address of this machine (`ip -brief address` lists them; 127.0.0.1 or 0.0.0.0 always are)"];
        eacces -> [Reason, io_lib:format(" — port ~b is below 1024, which only root or a program with CAP_NET_BIND_SERVICE may take (net.ipv4.ip_unprivileged_port_start); pick a port from 1024 up", [Port])];
        eaddrinuse -> [Reason, io_lib:format(" — another program listens on port ~b (`ss -ltnp` names it): stop it, or pick another port (0: any free one)", [Port])];
        _ -> Reason
    end.

%% ---- the gen_event handler the signal server calls --------------------------------------

%% Swapped in for the runtime's handler: {our argument, what its terminate returned}.
init({Main, _}) -> {ok, Main}.
handle_event(sigterm, Main) -> Main ! stop, {ok, Main};
handle_event(_, Main) -> {ok, Main}.
handle_call(_, Main) -> {ok, ok, Main}.
handle_info(_, Main) -> {ok, Main}.
terminate(_, _) -> ok.
code_change(_, Main, _) -> {ok, Main}.
