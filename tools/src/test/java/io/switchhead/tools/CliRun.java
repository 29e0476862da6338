package io.switchhead.tools;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** One in-process run of the command line as {@link SwitchHeadCommand#main} runs it: exit code, stdout, stderr. */
record CliRun(int code, String out, String err) {

  static CliRun of(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = SwitchHeadCommand.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }

  /** The same with leading and trailing white space removed from both outputs. */
  CliRun stripped() {
    return new CliRun(code, out.strip(), err.strip());
  }
}
