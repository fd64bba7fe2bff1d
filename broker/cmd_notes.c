/*  cmd_notes.c - what certcast compliance says above its report about
    the relays agents are reported by: a relay no longer enrolled, and a
    relay not heard from. Both leave agents listed missing for what they
    could not do, and Rule 26 has the designated officer told who did not
    comply: the officer must hear why before blaming them.
*/
#include "cmd.h"

//  Agents counted by the relay that reported them: via -> size_t *.
static zhashx_t *
s_tally_new (void)
{
    zhashx_t *tally = zhashx_new ();
    assert (tally);
    zhashx_set_destructor (tally, (zhashx_destructor_fn *) zstr_free);
    return tally;
}

static void
s_tally (zhashx_t *tally, const char *via)
{
    size_t *count = (size_t *) zhashx_lookup (tally, via);
    if (!count) {
        count = (size_t *) zmalloc (sizeof (size_t));
        assert (count);
        zhashx_insert (tally, via, count);
    }
    (*count)++;
}

//  The relays counted, by name: the notes come in a stable order.
static zlistx_t *
s_tally_names (zhashx_t *tally)
{
    zlistx_t *names = zhashx_keys (tally);
    zlistx_set_comparator (names, (zlistx_comparator_fn *) strcmp);
    zlistx_sort (names);
    return names;
}

//  Agents held via a relay no longer enrolled here (its key removed from
//  the allow directory, or enrolled again under another name) get
//  nothing from here: that relay will never report again, so they are
//  listed missing for everything since it left, and the officer must be
//  told why rather than blame them. Who may hold an agent: an enrolled
//  relay, or this broker, the via of every entry that is not an agent
//  (relays report only agents; a store from before that may hold other
//  entries via a relay, which then is taken for a holder, and nothing is
//  said of it). Without such an entry this broker's own name is not
//  known here, and nothing is said at all.
void
cmd_note_orphans (zhashx_t *roster, const cc_member_t **agents,
                size_t agent_count, FILE *out)
{
    zhashx_t *holders = zhashx_new ();
    assert (holders);
    bool own_known = false;
    for (const cc_member_t *member = (const cc_member_t *)
         zhashx_first (roster); member;
         member = (const cc_member_t *) zhashx_next (roster)) {
        if (streq (member->role, "relay"))
            zhashx_update (holders, member->name, (void *) member);
        if (!streq (member->role, "agent")) {
            zhashx_update (holders, member->via, (void *) member);
            own_known = true;
        }
    }
    zhashx_t *orphans = s_tally_new ();  //  via -> agents held
    for (size_t index = 0; own_known && index < agent_count; index++)
        if (!zhashx_lookup (holders, agents [index]->via))
            s_tally (orphans, agents [index]->via);
    zlistx_t *names = s_tally_names (orphans);
    for (const char *via = (const char *) zlistx_first (names); via;
         via = (const char *) zlistx_next (names)) {
        char *safe = cmd_text_safe (via);
        fprintf (out, "note: relay %s, which reported %zu of the agents "
                 "below, is no longer enrolled here: they have had nothing "
                 "from here since (enrol them again, at a relay or here)\n",
                 safe, *(size_t *) zhashx_lookup (orphans, via));
        free (safe);
    }
    zlistx_destroy (&names);
    zhashx_destroy (&orphans);
    zhashx_destroy (&holders);
}

//  "12 min" for a span of seconds, into out.
static const char *
s_span_text (int64_t seconds, char *out, size_t size)
{
    if (seconds < 120)
        snprintf (out, size, "%" PRId64 " s", seconds);
    else
    if (seconds < 120 * 60)
        snprintf (out, size, "%" PRId64 " min", seconds / 60);
    else
    if (seconds < 48 * 3600)
        snprintf (out, size, "%" PRId64 " h", seconds / 3600);
    else
        snprintf (out, size, "%" PRId64 " days", seconds / 86400);
    return out;
}

//  A relay that has not spoken for silent_after seconds leaves its agents
//  missing here whatever they did: they may have had nothing since, or
//  acked to a relay that cannot pass it on. Rule 26 blames the ones that
//  did not comply, so the officer is told which missing agents sit
//  behind such a relay, and since when. Silence is measured to when this
//  broker last ran (a report on a stopped broker's data, or a copy of
//  it, would otherwise name every relay), and that is said too.
void
cmd_note_silent_relays (zhashx_t *heard_at, int64_t alive,
                        const cc_member_t **agents, size_t agent_count,
                        int64_t silent_after, FILE *out)
{
    if (alive == 0)
        return;                 //  a store from before heard times
    int64_t now = (int64_t) time (NULL);
    int64_t until = now;
    char when [32], span [32];
    if (now - alive > silent_after) {
        until = alive;
        fprintf (out, "note: the broker that keeps this data last ran at "
                 "%s, %s before this report: acks it has not taken since "
                 "are not below, and relays are judged as of then\n",
                 cmd_time_iso (alive, when, sizeof when),
                 s_span_text (now - alive, span, sizeof span));
    }
    zhashx_t *behind = s_tally_new ();  //  silent relay -> agents listed
    for (size_t index = 0; index < agent_count; index++) {
        const char *via = agents [index]->via;
        cmd_heard_t *heard = (cmd_heard_t *) zhashx_lookup (heard_at, via);
        if (heard && until - heard->at > silent_after)
            s_tally (behind, via);
    }
    zlistx_t *names = s_tally_names (behind);
    for (const char *via = (const char *) zlistx_first (names); via;
         via = (const char *) zlistx_next (names)) {
        const cmd_heard_t *heard =
            (const cmd_heard_t *) zhashx_lookup (heard_at, via);
        char *safe = cmd_text_safe (via);
        fprintf (out, "note: relay %s, which reported %zu of the agents "
                 "below, %s %s, %s before %s: they may "
                 "have had nothing from here since, or acked to a relay "
                 "that could not pass it on\n", safe,
                 *(size_t *) zhashx_lookup (behind, via),
                 heard->heard? "was last heard from at"
                             : "has not been heard from since at least",
                 cmd_time_iso (heard->at, when, sizeof when),
                 s_span_text (until - heard->at, span, sizeof span),
                 until == now? "this report": "the broker last ran");
        free (safe);
    }
    zlistx_destroy (&names);
    zhashx_destroy (&behind);
}

