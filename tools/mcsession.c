/* mcsession: the command-line tool. Dispatches to the subcommands listed
 * in TOOL_COMMANDS (cmd_common.h), one file each. */
#include <stdio.h>
#include <string.h>

#include "cmd_common.h"

#define TOOL_TABLE_ENTRY(name) &tool_cmd_##name,
static const tool_cmd *const commands[] = {TOOL_COMMANDS(TOOL_TABLE_ENTRY)};
#undef TOOL_TABLE_ENTRY

#define NCOMMANDS (sizeof commands / sizeof *commands)
#define TOOL_USAGE "mcsession [--help | --version] COMMAND [ARGS...]"

static int print_tool_help(void) {
  printf("Usage: %s\n\n"
         "Tools for mcsession, server-side HTTP sessions backed by "
         "memcached or Redis.\n\nCommands:\n",
         TOOL_USAGE);
  for (size_t i = 0; i < NCOMMANDS; i++)
    printf("  %-12s %s\n", commands[i]->name, commands[i]->summary);
  printf("\nRun 'mcsession COMMAND --help' for a command's options.\n\n%s",
         TOOL_EXIT_HELP);
  return fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_ERROR;
}

static int print_version(void) {
  printf("mcsession %s\n", mcs_version_string());
  return fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_ERROR;
}

static int top_usage_error(const char *reason, const char *detail) {
  fprintf(stderr, "mcsession: %s%s%s%s (usage: %s)\n", reason,
          detail ? " '" : "", detail ? detail : "", detail ? "'" : "",
          TOOL_USAGE);
  return TOOL_EXIT_USAGE;
}

static const tool_cmd *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return top_usage_error("missing command", NULL);
  const char *arg = argv[1];
  if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
    return print_tool_help();
  if (strcmp(arg, "--version") == 0)
    return print_version();
  if (arg[0] == '-')
    return top_usage_error("unknown option", arg);
  const tool_cmd *cmd = find_command(arg);
  if (!cmd)
    return top_usage_error("unknown command", arg);
  return cmd->run(cmd, argc - 1, argv + 1);
}
