/*  cc_engine_status.c - the engine's STATUS reply: its name, role,
    sectors, stream heads, roster size, counters, refusals by code, LMDB
    map and (relays) upstream link, as one JSON object. Part of the engine
    actor (cc_engine_internal.h); reads its state and changes nothing.
*/
#include "cc_broker.h"
#include "cc_engine_internal.h"

//  Which relays are up is the federation's own business: for the daemon
//  itself, and for issuers of a sector the relay serves (the national
//  issuer: all of them).
static bool
s_may_see_relay (const cc_member_t *reader, const cc_member_t *relay)
{
    if (!reader)
        return true;
    if (!streq (reader->role, "issuer"))
        return false;
    char list [sizeof relay->sector];
    snprintf (list, sizeof list, "%s", relay->sector);
    char *state = NULL;
    for (char *token = strtok_r (list, ",", &state); token;
         token = strtok_r (NULL, ",", &state))
        if (cc_engine_sector_listed (reader, token))
            return true;
    return false;
}

//  A relay's name and sector are what its .pub file says, unchecked:
//  anything but plain ASCII becomes '?', so the JSON stays JSON.
static const char *
s_plain (const char *text, char *out, size_t size)
{
    size_t length = 0;
    for (; text [length] && length + 1 < size; length++)
        out [length] = isalnum ((unsigned char) text [length])
                    || strchr ("._,:+@- ", text [length])? text [length]: '?';
    out [length] = 0;
    return out;
}

//  One relay name as status shows it: two relay keys may share a name,
//  and either one speaking is that name's relay speaking (as in certcast
//  compliance); a name twice in one JSON object would be read as the
//  last one only, perhaps a key that never spoke.
typedef struct {
    int64_t heard;                  //  latest of its keys; 0: none spoke
    const cc_member_t *member;      //  the key shown (sector)
} s_relay_view_t;

//  "relays":{NAME:{"sector":S,"heard_s_ago":N or null}}: seconds since
//  each enrolled relay below last spoke (every 5 s while it is up), null
//  if it has not since this daemon started.
static void
s_relays_json (self_t *self, const cc_member_t *reader, FILE *out)
{
    zhashx_t *views = zhashx_new ();
    assert (views);
    zhashx_set_destructor (views, (zhashx_destructor_fn *) zstr_free);
    for (const cc_member_t *member = cc_roster_first (self->roster); member;
         member = cc_roster_next (self->roster)) {
        if (!streq (member->role, "relay") || !s_may_see_relay (reader, member))
            continue;
        int64_t heard = cc_heard_last (self->heard, member->sign_key);
        s_relay_view_t *view =
            (s_relay_view_t *) zhashx_lookup (views, member->name);
        if (!view) {
            view = (s_relay_view_t *) zmalloc (sizeof (s_relay_view_t));
            assert (view);
            zhashx_insert (views, member->name, view);
        }
        else
        if (heard <= view->heard)
            continue;
        view->heard = heard;
        view->member = member;
    }
    zlistx_t *names = zhashx_keys (views);
    assert (names);
    zlistx_set_comparator (names, (zlistx_comparator_fn *) strcmp);
    zlistx_sort (names);
    fprintf (out, ",\"relays\":{");
    int64_t now = (int64_t) time (NULL);
    bool first = true;
    for (const char *key = (const char *) zlistx_first (names); key;
         key = (const char *) zlistx_next (names)) {
        const s_relay_view_t *view =
            (const s_relay_view_t *) zhashx_lookup (views, key);
        const cc_member_t *member = view->member;
        char name [sizeof member->name], sector [sizeof member->sector];
        fprintf (out, "%s\"%s\":{\"sector\":\"%s\",\"heard_s_ago\":",
                 first? "": ",",
                 s_plain (member->name, name, sizeof name),
                 s_plain (member->sector, sector, sizeof sector));
        if (view->heard)
            fprintf (out, "%" PRId64 "}",
                     now > view->heard? now - view->heard: 0);
        else
            fprintf (out, "null}");
        first = false;
    }
    fprintf (out, "}");
    zlistx_destroy (&names);
    zhashx_destroy (&views);
}

char *
cc_engine_status_json (self_t *self, const cc_member_t *reader)
{
    char *json = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&json, &size);
    assert (out);
    cc_engine_counters_t *counters = &self->counters;
    fprintf (out, "{\"name\":\"%s\",\"role\":\"%s\",\"uptime_s\":%" PRId64 ",",
             self->name, self->relay? "relay": "national",
             (zclock_mono () - self->started) / 1000);
    fprintf (out, "\"sectors\":[");
    for (char **sector = self->sectors; *sector; sector++)
        fprintf (out, "%s\"%s\"", sector == self->sectors? "": ",", *sector);
    fprintf (out, "],\"streams\":{");
    bool first = true;
    //  How many advisories a sector has had, and when, is not for a key
    //  of another sector (an agent, another sector's relay) to learn.
    for (uint64_t *head = (uint64_t *) zhashx_first (self->heads); head;
         head = (uint64_t *) zhashx_next (self->heads)) {
        const char *stream = (const char *) zhashx_cursor (self->heads);
        const char *sector = cc_engine_sector_of (stream);
        //  Issuers read no stream, but may see the heads of their sectors.
        if (reader && !cc_engine_may_read (reader, sector)
        &&  !(streq (reader->role, "issuer")
           && cc_engine_sector_listed (reader, sector)))
            continue;
        fprintf (out, "%s\"%s\":%" PRIu64, first? "": ",", stream, *head);
        first = false;
    }
    fprintf (out, "},\"roster\":%zu,", cc_roster_size (self->roster));
    fprintf (out, "\"published\":%" PRIu64 ",\"forwarded\":%" PRIu64
             ",\"fetches\":%" PRIu64 ",\"deliveries_served\":%" PRIu64
             ",\"ack_messages\":%" PRIu64 ",\"ack_rows\":%" PRIu64
             ",\"acks_unknown\":%" PRIu64 ",\"acks_deferred\":%" PRIu64
             ",\"acks_upstream\":%" PRIu64
             ",\"acks_refused_upstream\":%" PRIu64
             ",\"ack_checks\":%" PRIu64
             ",\"forwards_refused\":%" PRIu64
             ",\"rosters\":%" PRIu64 ",\"roster_parts\":%" PRIu64
             ",\"commits\":%" PRIu64 ",\"commit_failures\":%" PRIu64
             ",\"bad_frames\":%" PRIu64 ",\"stream_reopens\":%" PRIu64 ",",
             counters->published, counters->forwarded, counters->fetches,
             counters->deliveries_served, counters->ack_messages,
             counters->ack_rows, counters->acks_unknown,
             counters->acks_deferred,
             counters->acks_upstream, counters->acks_refused_upstream,
             counters->ack_checks,
             counters->forwards_refused, counters->rosters,
             counters->roster_parts, counters->commits,
             counters->commit_failures, counters->bad_frames,
             counters->stream_reopens);
    //  What relays' rosters did not get in: entries whose key another
    //  relay (or our allow directory) holds, entries not of the relay's
    //  sectors, parts over a bound on what we stage; and what is staged.
    fprintf (out, "\"roster_entries_held\":%" PRIu64
             ",\"roster_entries_out_of_sector\":%" PRIu64
             ",\"roster_over_limit\":%" PRIu64
             ",\"roster_staged_bytes\":%zu,",
             counters->roster_entries_held,
             counters->roster_entries_out_of_sector,
             counters->roster_over_limit,
             cc_roster_chunks_staged_bytes (self->roster_chunks));
    fprintf (out, "\"refused\":{");
    first = true;
    uint64_t total = 0;
    for (int code = 1; code < 16; code++)
        if (counters->refused [code]) {
            fprintf (out, "%s\"%s\":%" PRIu64, first? "": ",",
                     cc_strerror (code), counters->refused [code]);
            total += counters->refused [code];
            first = false;
        }
    fprintf (out, "},\"refused_total\":%" PRIu64 ",", total);
    fprintf (out, "\"map_size\":%zu,\"map_growths\":%d",
             cc_store_mapsize (self->store), cc_store_growths (self->store));
    //  Signature checks queued or running: near VERIFY_BACKLOG_MAX, this
    //  hop has stopped reading requests until its cores catch up.
    fprintf (out, ",\"verifying\":%zu,\"intake_paused\":%s",
             self->jobs_unfinished, self->router_paused? "true": "false");
    s_relays_json (self, reader, out);
    if (self->upstream) {
        char behind [1024];
        cc_upstream_behind (self->upstream, behind, sizeof behind);
        fprintf (out, ",\"upstream\":{\"connected\":%s,\"caught_up\":%s"
                 ",\"silence_ms\":%" PRId64
                 ",\"reconnects\":%" PRIu64 ",\"roster_pending\":%s"
                 ",\"roster_not_taken\":%zu,\"behind\":[%s]}",
                 cc_upstream_connected (self->upstream)? "true": "false",
                 cc_engine_caught_up (self)? "true": "false",
                 cc_upstream_silence (self->upstream),
                 cc_upstream_reconnects (self->upstream),
                 self->roster_dirty
                 || cc_upstream_roster_in_flight (self->upstream)?
                 "true": "false",
                 cc_upstream_roster_not_taken (self->upstream), behind);
    }
    fprintf (out, "}");
    fclose (out);
    return json;
}
