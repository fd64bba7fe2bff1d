/*  broker_main.c - certcast-broker, the national broker. */
#include "cc_broker.h"

int
main (int argc, char **argv)
{
    return cc_daemon_main (argc, argv, false);
}
