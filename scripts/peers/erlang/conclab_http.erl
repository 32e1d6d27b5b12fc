%% The http task (CONTRACT.md, "Task i"): one GET /query on a fresh gen_tcp connection with
%% `Connection: close`, read to the close, bounded by --timeout-ms as a whole. The process
%% waits in `gen_tcp:recv`, a receive on its port's messages: the runtime's poll thread
%% (epoll) wakes it, and its scheduler runs another process meanwhile.
-module(conclab_http).
-export([get/2]).

-define(TRUNCATED, "truncated response: the connection closed before it was complete").
-define(MAX_HEAD, 16384).
-define(MAX_BODY, 65536).

%% The value of task Id, or {error, Why}.
get(#{addr := {Host, Port}, addr_text := Text, ms := Ms, timeout_ms := T}, Id) ->
    Deadline = erlang:monotonic_time(millisecond) + T,
    Request = io_lib:format("GET /query?id=~b&delay_ms=~b HTTP/1.1\r\nHost: ~s\r\nConnection: close\r\n\r\n", [Id, Ms, Text]),
    case gen_tcp:connect(Host, Port, [binary, {active, false}, {packet, raw}], T) of
        {ok, S} ->
            Read = case gen_tcp:send(S, Request) of
                ok -> read(S, Deadline, []);
                {error, Why} -> {error, Why}
            end,
            gen_tcp:close(S),
            case Read of
                {ok, Data} -> value(Data);
                {error, Why2} -> failure(Why2, Text, T)
            end;
        {error, Why} -> failure(Why, Text, T)
    end.

read(S, Deadline, Acc) ->
    Left = Deadline - erlang:monotonic_time(millisecond),
    case Left > 0 andalso gen_tcp:recv(S, 0, Left) of
        false -> {error, timeout};
        {ok, Bytes} ->
            Got = [Bytes | Acc],
            case iolist_size(Got) > ?MAX_HEAD + 2 * ?MAX_BODY of
                true -> {ok, too_large};
                false -> read(S, Deadline, Got)
            end;
        {error, closed} -> {ok, iolist_to_binary(lists:reverse(Acc))};
        {error, Why} -> {error, Why}
    end.

failure(econnrefused, Text, _) -> {error, "connection refused to " ++ Text ++ " (is the service running? `make service`)"};
failure(timeout, _, T) -> {error, io_lib:format("the request timed out after ~b ms (--timeout-ms)", [T])};
failure(emfile, _, _) -> {error, "too many open files (EMFILE) — limit to raise: RLIMIT_NOFILE (`ulimit -n`)"};
failure(eaddrnotavail, _, _) -> {error, "no local port left (EADDRNOTAVAIL) — limit to raise: the ephemeral ports: net.ipv4.ip_local_port_range (or fewer connections at once)"};
failure(nxdomain, Text, _) -> {error, "no address for " ++ Text};
failure(Why, Text, _) -> {error, Text ++ ": " ++ inet:format_error(Why)}.

%% The value in a whole response read to its close: the body's `value`.
value(too_large) -> {error, "malformed response: over the 16 KiB head and 64 KiB body bounds"};
value(Data) ->
    case binary:split(Data, <<"\r\n\r\n">>) of
        [Head, _] when byte_size(Head) > ?MAX_HEAD -> {error, "malformed response: a head over 16 KiB"};
        [Head, Rest] -> response(binary:split(Head, <<"\r\n">>, [global]), Rest);
        [_] when byte_size(Data) > ?MAX_HEAD -> {error, "malformed response: a head over 16 KiB"};
        [_] -> {error, ?TRUNCATED}
    end.

response([StatusLine | Fields], Rest) ->
    case binary:split(StatusLine, <<" ">>, [global]) of
        [<<"HTTP/1.", _/binary>>, <<"1", _/binary>> = Code | _] when Code =/= <<"101">> ->
            value(Rest); % an interim response: the real one follows
        [<<"HTTP/1.", _/binary>>, <<"200">> | _] -> body(fields(Fields, #{}), Rest);
        [<<"HTTP/1.", _/binary>>, Code | _] -> {error, "the service answered HTTP " ++ binary_to_list(Code)};
        _ -> {error, "malformed response"}
    end.

fields([], Acc) -> Acc;
fields([Line | Rest], Acc) ->
    case binary:split(Line, <<":">>) of
        [Name, Value] when Name =/= <<>> ->
            Key = string:lowercase(string:trim(Name)),
            V = string:lowercase(string:trim(Value)),
            fields(Rest, maps:update_with(Key, fun(Old) -> Old ++ [V] end, [V], Acc));
        _ -> {error, "malformed response: a head line that is not a field"}
    end.

body({error, _} = E, _) -> E;
body(#{<<"transfer-encoding">> := [<<"chunked">>]}, Rest) -> json(dechunk(Rest, []));
body(#{<<"transfer-encoding">> := _}, _) -> {error, "malformed response: transfer coding was not asked for"};
body(#{<<"content-length">> := Lengths}, Rest) ->
    case lists:usort([string:to_integer(L) || L <- Lengths]) of
        [{N, <<>>}] when N > ?MAX_BODY -> {error, "malformed response: body over the 65536-byte bound"};
        [{N, <<>>}] when N >= 0, byte_size(Rest) >= N -> json(binary:part(Rest, 0, N));
        [{N, <<>>}] when N >= 0 -> {error, ?TRUNCATED};
        _ -> {error, "malformed response: bad Content-Length"}
    end;
body(_, Rest) when byte_size(Rest) > ?MAX_BODY -> {error, "malformed response: body over the 65536-byte bound"};
body(_, Rest) -> json(Rest).

%% A chunked body: hex sizes, extensions ignored, trailer fields skipped.
dechunk(Data, Acc) ->
    Last = "truncated response: the connection closed before the last chunk",
    case binary:split(Data, <<"\r\n">>) of
        [_] -> {error, Last};
        [SizeLine, Rest] ->
            [Hex | _] = binary:split(SizeLine, <<";">>),
            case catch binary_to_integer(string:trim(Hex), 16) of
                0 -> trailers(Rest, iolist_to_binary(lists:reverse(Acc)));
                N when is_integer(N), N > 0 ->
                    case iolist_size(Acc) + N > ?MAX_BODY of
                        true -> {error, "malformed response: body over the 65536-byte bound"};
                        false when byte_size(Rest) < N + 2 -> {error, Last};
                        false ->
                            case binary:part(Rest, N, 2) of
                                <<"\r\n">> -> dechunk(binary:part(Rest, N + 2, byte_size(Rest) - N - 2), [binary:part(Rest, 0, N) | Acc]);
                                _ -> {error, "malformed response: a chunk's data is not followed by CRLF"}
                            end
                    end;
                _ -> {error, "malformed response: bad chunk size"}
            end
    end.

trailers(Data, Body) ->
    case binary:split(Data, <<"\r\n">>) of
        [_] -> {error, "truncated response: the connection closed before the last chunk"};
        [<<>>, _] -> Body;
        [Line, Rest] ->
            case binary:split(Line, <<":">>) of
                [Name, _] when Name =/= <<>> -> trailers(Rest, Body);
                _ -> {error, "malformed response: a trailer line that is not a field"}
            end
    end.

json({error, _} = E) -> E;
json(Body) ->
    case re:run(Body, <<"\"value\"\\s*:\\s*([0-9]+)">>, [{capture, all_but_first, binary}]) of
        {match, [V]} -> binary_to_integer(V);
        nomatch -> {error, "malformed response: body is not the expected JSON"}
    end.
