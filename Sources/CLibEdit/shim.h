// Non-variadic wrappers for libedit's variadic el_set / history calls, which Swift cannot call.
#ifndef DRIP_CLIBEDIT_SHIM_H
#define DRIP_CLIBEDIT_SHIM_H

#include <stdio.h>
#include <histedit.h>

typedef char *(*drip_prompt_function)(EditLine *);

// Opens an editor on the process's standard streams, keeping the C stdio globals out of Swift.
static inline EditLine *drip_el_init_stdio(const char *program) {
    return el_init(program, stdin, stdout, stderr);
}

static inline int drip_el_set_prompt(EditLine *editor, drip_prompt_function prompt) {
    return el_set(editor, EL_PROMPT, prompt);
}

static inline int drip_el_set_editor(EditLine *editor, const char *mode) {
    return el_set(editor, EL_EDITOR, mode);
}

static inline int drip_el_set_history(EditLine *editor, History *store) {
    return el_set(editor, EL_HIST, history, store);
}

static inline int drip_el_set_signal(EditLine *editor, int handle) {
    return el_set(editor, EL_SIGNAL, handle);
}

static inline int drip_el_set_clientdata(EditLine *editor, void *data) {
    return el_set(editor, EL_CLIENTDATA, data);
}

static inline void *drip_el_get_clientdata(EditLine *editor) {
    void *data = NULL;
    el_get(editor, EL_CLIENTDATA, &data);
    return data;
}

static inline int drip_el_set_getcfn(EditLine *editor, el_rfunc_t function) {
    return el_set(editor, EL_GETCFN, function);
}

// Redraws the prompt and the line being edited (after output was printed over them).
static inline int drip_el_refresh(EditLine *editor) {
    return el_set(editor, EL_REFRESH);
}

typedef unsigned char (*drip_editor_function)(EditLine *, int);

// Adds a named editor function and binds a key sequence to it.
static inline int drip_el_bind_function(EditLine *editor, const char *name, const char *help, drip_editor_function function, const char *key) {
    if (el_set(editor, EL_ADDFN, name, help, function) != 0) return -1;
    return el_set(editor, EL_BIND, key, name, NULL);
}

static inline int drip_history_set_size(History *store, int size) {
    HistEvent event;
    return history(store, &event, H_SETSIZE, size);
}

static inline int drip_history_set_unique(History *store, int unique) {
    HistEvent event;
    return history(store, &event, H_SETUNIQUE, unique);
}

static inline int drip_history_enter(History *store, const char *line) {
    HistEvent event;
    return history(store, &event, H_ENTER, line);
}

static inline int drip_history_load(History *store, const char *path) {
    HistEvent event;
    return history(store, &event, H_LOAD, path);
}

static inline int drip_history_save(History *store, const char *path) {
    HistEvent event;
    return history(store, &event, H_SAVE, path);
}

#endif
