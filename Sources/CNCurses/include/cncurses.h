#ifndef MELTANO_STATE_CNCURSES_H
#define MELTANO_STATE_CNCURSES_H
/* Must come before curses.h, here in the header, or the wide-character API
   (add_wch, mvaddwstr, get_wch) is not declared for Swift clients. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <ncursesw/curses.h>
#include <locale.h>
#include <wchar.h>

/* Swift 6 rejects C globals as shared mutable state and does not import
   function-like macros: one static inline function each. */
static inline WINDOW *ms_stdscr(void) { return stdscr; }
static inline int ms_lines(void) { return LINES; }
static inline int ms_cols(void) { return COLS; }
static inline int ms_colors(void) { return COLORS; }
static inline int ms_color_pairs(void) { return COLOR_PAIRS; }
static inline attr_t ms_a_bold(void) { return A_BOLD; }
static inline attr_t ms_a_dim(void) { return A_DIM; }
static inline attr_t ms_a_reverse(void) { return A_REVERSE; }
static inline attr_t ms_a_underline(void) { return A_UNDERLINE; }
static inline attr_t ms_a_normal(void) { return A_NORMAL; }
static inline int ms_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline int ms_key_resize(void) { return KEY_RESIZE; }
static inline int ms_key_f(int n) { return KEY_F(n); }
static inline int ms_err(void) { return ERR; }

static inline int ms_key_code_yes(void) { return KEY_CODE_YES; }
static inline int ms_getcurx(void) { return getcurx(stdscr); }
static inline WINDOW *ms_curscr(void) { return curscr; }

/* newterm on the process's stdin/stdout: unlike initscr it returns NULL instead of
   exiting when the terminal cannot be set up. (stdin/stdout are C globals Swift 6
   will not touch.) */
static inline SCREEN *ms_newterm(void) { return newterm(NULL, stdout, stdin); }

/* Draws one cell: a wide character string (one grapheme's scalars) with attributes
   and a colour pair. */
static inline int ms_put_cell(int y, int x, const wchar_t *wch, attr_t attrs, short pair) {
    cchar_t cell;
    if (setcchar(&cell, wch, attrs, pair, NULL) == ERR) return ERR;
    return mvadd_wch(y, x, &cell);
}
#endif
