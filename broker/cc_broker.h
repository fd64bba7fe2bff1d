/*  cc_broker.h - internal header of the broker directory: the shared core
    (store, log, ledger, roster, config) every certcast program links, and
    the broker engine.
*/
#ifndef CC_BROKER_H_INCLUDED
#define CC_BROKER_H_INCLUDED

#include "../proto/cc_proto.h"
#include "cc_store.h"
#include "cc_log.h"
#include "cc_ledger.h"
#include "cc_roster.h"
#include "cc_roster_chunks.h"
#include "cc_zap.h"
#include "cc_config.h"
#include "cc_upstream.h"
#include "cc_ackpace.h"
#include "cc_heartbeats.h"
#include "cc_heard.h"
#include "cc_engine.h"

#endif
