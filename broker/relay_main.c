/*  relay_main.c - certcast-relay, a sectoral relay. */
#include "cc_broker.h"

int
main (int argc, char **argv)
{
    return cc_daemon_main (argc, argv, true);
}
