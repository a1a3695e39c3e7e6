#ifndef MELTANO_STATE_CLIBPQ_SHIM_H
#define MELTANO_STATE_CLIBPQ_SHIM_H
#include <libpq-fe.h>

/* PG_DIAG_* are character-literal macros, which Swift does not import. */
enum {
    MS_PG_DIAG_SEVERITY = 'S',
    MS_PG_DIAG_SEVERITY_NONLOCALIZED = 'V',
    MS_PG_DIAG_SQLSTATE = 'C',
    MS_PG_DIAG_MESSAGE_PRIMARY = 'M',
    MS_PG_DIAG_MESSAGE_DETAIL = 'D',
    MS_PG_DIAG_MESSAGE_HINT = 'H',
    MS_PG_DIAG_STATEMENT_POSITION = 'P',
};
#endif
