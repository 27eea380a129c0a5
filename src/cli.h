/* Subcommands of the uoe-wb command line. Each takes the arguments after its
 * name (argv[0] is the subcommand) and returns the process exit status. */
#ifndef UOE_CLI_H
#define UOE_CLI_H

#define EXIT_USAGE 2

int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_attribute(int argc, char **argv);

int cmd_unlearn(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* The workbench; also bare `uoe-wb` (argc 1). */
int cmd_tui(int argc, char **argv);

/* Prints "uoe-wb: message" for the most recent error to stderr; returns 1. */
int cli_report_error(void);
/* Reads a number of at least min for an option; the error names the option. */
int cli_parse_number(const char *option, const char *text, double min, double *out);

#endif
