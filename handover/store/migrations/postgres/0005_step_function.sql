-- 0005: a step in one round trip.
--
-- A step (everything one event changes, see handover/store/contract/conversations.py)
-- used to be a transaction of eight to twelve statements, each a network round trip.
-- handover_step does the common part of it on the server in one call, which is a
-- transaction of its own when called outside one: the inbox key, the conversation, the
-- completions of delivered items, transcript entries, outbox items and their leases,
-- and timers. Survey answers, echo keys and handover events (rare) are written by the
-- caller in the same transaction.
--
-- Returns NULL when the inbox key was seen before (nothing written), else one element
-- per outbox item, in order: its id when it was leased to p_lease_owner, else NULL.
-- A conversation changed since p_version (or inserted meanwhile, for p_version 0)
-- raises SQLSTATE HO409, which the store turns into VersionConflict; the whole call is
-- then undone.

CREATE FUNCTION handover_step(
    p_inbox_source text, p_inbox_id text, p_now timestamptz,
    p_id text, p_version integer, p_tenant text, p_channel text, p_channel_key text,
    p_language text, p_state text, p_epoch integer, p_handover_no integer, p_seq integer,
    p_agent_name text, p_bot_escalations integer, p_context text,
    p_created_at timestamptz, p_updated_at timestamptz,
    p_completed bigint[], p_lease_owner text, p_lease_until timestamptz,
    p_t_conversation text[], p_t_seq integer[], p_t_party text[], p_t_content text[], p_t_message_id text[],
    p_t_sender text[], p_t_created_at timestamptz[], p_t_handover_no integer[],
    p_o_conversation text[], p_o_target text[], p_o_kind text[], p_o_payload text[], p_o_epoch integer[],
    p_o_correlation text[],
    p_timers_cancelled text[], p_timer_conversation text[], p_timer_names text[],
    p_timer_due timestamptz[], p_timer_epochs integer[]
) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
    v_leased bigint[] := '{}';
BEGIN
    IF p_inbox_source IS NOT NULL THEN
        INSERT INTO inbox (source, source_id, received_at)
        VALUES (p_inbox_source, p_inbox_id, p_now) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;

    -- The conversation row first: its lock orders concurrent steps of a conversation,
    -- so the outbox ids of one queue commit in id order.
    IF p_version = 0 THEN
        BEGIN
            INSERT INTO conversations (id, tenant, channel, channel_key, language, state,
                epoch, handover_no, seq, agent_name, bot_escalations, context, created_at,
                updated_at, version)
            VALUES (p_id, p_tenant, p_channel, p_channel_key, p_language, p_state, p_epoch,
                p_handover_no, p_seq, p_agent_name, p_bot_escalations, p_context::json,
                p_created_at, p_updated_at, 1);
        EXCEPTION WHEN unique_violation THEN
            RAISE EXCEPTION 'conversation % already exists', p_id USING ERRCODE = 'HO409';
        END;
    ELSE
        -- Identity is never rewritten here, so a step computed before an erasure
        -- cannot restore the erased key.
        UPDATE conversations SET language = p_language, state = p_state, epoch = p_epoch,
            handover_no = p_handover_no, seq = p_seq, agent_name = p_agent_name,
            bot_escalations = p_bot_escalations, context = p_context::json,
            updated_at = p_now, version = version + 1
        WHERE id = p_id AND version = p_version;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'conversation % changed since version %', p_id, p_version
                USING ERRCODE = 'HO409';
        END IF;
    END IF;

    -- Before the new items: a queue whose head this removes gets its new head now.
    IF p_lease_owner IS NOT NULL AND cardinality(p_completed) > 0 THEN
        DELETE FROM outbox WHERE id = ANY (p_completed) AND lease_owner = p_lease_owner;
    END IF;

    IF cardinality(p_t_seq) > 0 THEN
        INSERT INTO transcript (conversation_id, seq, party, content, message_id,
            sender_name, created_at, handover_no)
        SELECT x.conv, x.seq, x.party, x.content::json, x.message_id, x.sender,
            x.created_at, x.handover_no
        FROM unnest(p_t_conversation, p_t_seq, p_t_party, p_t_content, p_t_message_id,
            p_t_sender, p_t_created_at, p_t_handover_no)
            AS x (conv, seq, party, content, message_id, sender, created_at, handover_no);
    END IF;

    IF cardinality(p_o_kind) > 0 THEN
        WITH made AS (
            INSERT INTO outbox (conversation_id, target, kind, payload, epoch,
                correlation_id, created_at, attempts, next_attempt_at)
            SELECT x.conv, x.target, x.kind, x.payload::json, x.epoch, x.corr, p_now, 0,
                p_now
            FROM unnest(p_o_conversation, p_o_target, p_o_kind, p_o_payload, p_o_epoch,
                p_o_correlation) WITH ORDINALITY AS x (conv, target, kind, payload, epoch,
                corr, n)
            ORDER BY x.n
            RETURNING id)
        SELECT array_agg(id ORDER BY id) INTO v_ids FROM made;
        -- Leased when nothing earlier waits in the queue (new items of this step
        -- aside) and no other instance holds the citizen's live connection.
        IF p_lease_owner IS NOT NULL AND p_lease_until IS NOT NULL THEN
            WITH leased AS (
                UPDATE outbox AS o SET lease_owner = p_lease_owner, lease_until = p_lease_until
                WHERE o.id = ANY (v_ids)
                AND NOT EXISTS (SELECT 1 FROM outbox AS p
                    WHERE p.conversation_id = o.conversation_id AND p.target = o.target
                    AND p.id < o.id AND p.id <> ALL (v_ids))
                AND (o.target <> 'citizen' OR NOT EXISTS (SELECT 1 FROM connection_leases AS l
                    WHERE l.conversation_id = o.conversation_id AND l.owner <> p_lease_owner
                    AND l.until > p_now))
                RETURNING o.id)
            SELECT coalesce(array_agg(id), '{}') INTO v_leased FROM leased;
        END IF;
        IF cardinality(v_leased) < cardinality(v_ids) THEN
            -- Some are for any instance to claim: wake them (at commit).
            PERFORM pg_notify('handover_wake', 'outbox');
        END IF;
    END IF;

    -- Cancel before set: a step that restarts a timer may name it in both lists.
    IF cardinality(p_timers_cancelled) > 0 THEN
        DELETE FROM timers WHERE conversation_id = p_id AND name = ANY (p_timers_cancelled);
    END IF;
    IF cardinality(p_timer_names) > 0 THEN
        INSERT INTO timers (conversation_id, name, due_at, epoch)
        SELECT x.conv, x.name, x.due_at, x.epoch
        FROM unnest(p_timer_conversation, p_timer_names, p_timer_due, p_timer_epochs)
            AS x (conv, name, due_at, epoch)
        ON CONFLICT (conversation_id, name)
        DO UPDATE SET due_at = excluded.due_at, epoch = excluded.epoch;
        PERFORM pg_notify('handover_wake', 'timers');
    END IF;

    RETURN ARRAY(
        SELECT CASE WHEN u.id = ANY (v_leased) THEN u.id END
        FROM unnest(coalesce(v_ids, '{}')) WITH ORDINALITY AS u (id, n) ORDER BY u.n);
END;
$$;
