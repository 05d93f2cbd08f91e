/* A shared object named like a plugin that is not one: it exports a
 * function, but not volley_plugin_entry (tests/unit/test_plugin_loader.c). */
__attribute__((visibility("default"))) int volley_not_an_entry(void);

__attribute__((visibility("default"))) int volley_not_an_entry(void) { return 42; }
