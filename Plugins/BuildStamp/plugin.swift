import Foundation
import PackagePlugin

/// Stamps the target it is attached to (ServiceKit) with the git revision it is built from.
///
/// At every build, `stamp.sh` (beside this file) writes `BuildStamp.swift` into the plugin's work
/// folder: an internal `enum BuildStamp` with `revision` (`git rev-parse HEAD`) and `dirty`
/// (whether `git status` lists a changed tracked file). Without a git checkout it falls back to
/// `GIT_REVISION` and `GIT_DIRTY` from the build's environment, else `unknown`. The file is
/// rewritten only when its content changes, so an unchanged revision recompiles nothing.
///
/// Why a build command and not a prebuild command: SwiftPM 6.3 runs prebuild commands only when it
/// plans the build again (a manifest change, a source file added or removed), so a commit that
/// adds no file would keep the old revision. A build command runs when one of its inputs changed;
/// its input `stamp.tick` is replaced by the script at every run, so llbuild sees a changed input
/// at the next build and runs the script again: the stamp is checked at every build.
@main
struct BuildStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let work = context.pluginWorkDirectoryURL
        let output = work.appending(path: "BuildStamp.swift")
        let tick = work.appending(path: "stamp.tick")
        let package = context.package.directoryURL
        let script = package.appending(path: "Plugins/BuildStamp/stamp.sh")
        // llbuild refuses to run a command whose input is missing: the first build needs the tick.
        if !FileManager.default.fileExists(atPath: tick.path) {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            try Data().write(to: tick)
        }
        // No `environment:`: a build command inherits the environment of `swift build` at build
        // time, so GIT_REVISION and GIT_DIRTY are read when the script runs, never from a plan
        // made by an earlier build.
        return [
            .buildCommand(
                displayName: "Stamping \(target.name) with the git revision",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, package.path, output.path, tick.path],
                inputFiles: [script, tick],
                outputFiles: [output]
            ),
        ]
    }
}
