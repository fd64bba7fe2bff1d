/*  cc_agents.h - internal header of the agents directory: the shared core
    (protocol library, store, config) and the subscriber agent's modules,
    included in a fixed order so every agent module compiles the same way.
*/
#ifndef CC_AGENTS_H_INCLUDED
#define CC_AGENTS_H_INCLUDED

#include "../broker/cc_broker.h"
#include "cc_inbox.h"
#include "cc_handoff.h"
#include "cc_handover.h"
#include "cc_agent.h"

#endif
