using System.Reflection;
using Ares.Build;
using TorchSharp;

namespace Ares.Build.Tests;

public class ElfVersionNeedsTests
{
    const string Missing = "GLIBCXX_3.4.32";

    /// The pristine library in the NuGet cache (the build never touches it), copied to a temp file.
    static string CopyOfPristineLibrary()
    {
        var root = typeof(ElfVersionNeedsTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "NuGetPackageRoot").Value!;
        var src = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(src), $"expected TorchSharp's native library at {src}");
        var dst = Path.Combine(Path.GetTempPath(), $"ares-elf-{Guid.NewGuid():N}.so");
        File.Copy(src, dst);
        return dst;
    }

    /// Every version a current libstdc++ defines (GLIBCXX_3.4 … 3.4.34, CXXABI_1.3 … 1.3.16), less one.
    static HashSet<string> HostWithout(string version) =>
        Enumerable.Range(0, 35).Select(i => i == 0 ? "GLIBCXX_3.4" : $"GLIBCXX_3.4.{i}")
            .Concat(Enumerable.Range(0, 17).Select(i => i == 0 ? "CXXABI_1.3" : $"CXXABI_1.3.{i}"))
            .Append("CXXABI_TM_1").Append("CXXABI_FLOAT128")
            .Where(v => v != version).ToHashSet();

    [Fact]
    public void The_pristine_library_needs_GLIBCXX_3_4_32_only_for_the_marker_symbol()
    {
        var path = CopyOfPristineLibrary();
        try
        {
            var need = ElfVersionNeeds.ReadNeeds(path).Single(n => n.Version == Missing);
            Assert.Equal("libstdc++.so.6", need.File);
            Assert.False(need.IsWeak);
            Assert.Equal(new[] { "_ZSt21ios_base_library_initv" }, need.Symbols);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_host_lacking_the_version_gets_exactly_that_need_weakened_and_nothing_else()
    {
        var path = CopyOfPristineLibrary();
        try
        {
            var before = File.ReadAllBytes(path);
            var log = ElfVersionNeeds.WeakenMissing(path, HostWithout(Missing));
            Assert.Single(log);
            Assert.StartsWith("weakened GLIBCXX_3.4.32", log[0]);
            var after = File.ReadAllBytes(path);
            var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
            var need = ElfVersionNeeds.ReadNeeds(path).Single(n => n.Version == Missing);
            Assert.True(need.IsWeak);
            Assert.All(changed, i => Assert.InRange(i, need.FlagsOffset, need.FlagsOffset + 1));
            Assert.All(ElfVersionNeeds.ReadNeeds(path).Where(n => n.Version != Missing), n => Assert.False(n.IsWeak));
            // Idempotent: a second build changes nothing.
            Assert.Empty(ElfVersionNeeds.WeakenMissing(path, HostWithout(Missing)));
            Assert.Equal(after, File.ReadAllBytes(path));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_host_that_has_the_version_is_left_untouched()
    {
        var path = CopyOfPristineLibrary();
        try
        {
            var before = File.ReadAllBytes(path);
            Assert.Empty(ElfVersionNeeds.WeakenMissing(path, HostWithout("none")));
            Assert.Equal(before, File.ReadAllBytes(path));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_missing_version_that_binds_real_symbols_is_reported_not_patched()
    {
        var path = CopyOfPristineLibrary();
        try
        {
            var before = File.ReadAllBytes(path);
            // Pretend the host lacks a version the library really calls into.
            var log = ElfVersionNeeds.WeakenMissing(path, HostWithout("GLIBCXX_3.4.9").Append(Missing).ToHashSet());
            Assert.Contains(log, l => l.StartsWith("cannot weaken GLIBCXX_3.4.9"));
            Assert.Equal(before, File.ReadAllBytes(path));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void The_host_libstdcxx_defined_versions_are_read()
    {
        var host = ElfVersionNeeds.FindHostLibStdCxx();
        if (host == null) return; // not a glibc Linux host: nothing to check
        var defined = ElfVersionNeeds.ReadDefinedVersions(host);
        Assert.Contains("GLIBCXX_3.4", defined);
        Assert.Contains("CXXABI_1.3", defined);
    }

    [Fact]
    public void Non_elf_and_truncated_files_are_rejected_with_the_file_named()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ares-elf-{Guid.NewGuid():N}.so");
        try
        {
            File.WriteAllBytes(path, new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0 });
            var e = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.ReadNeeds(path));
            Assert.Contains(path, e.Message);
            File.WriteAllText(path, "not an elf");
            Assert.False(ElfVersionNeeds.IsElf64Le(path));
        }
        finally { File.Delete(path); }
    }

    static int LinkCount(string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-L", "-c", "%h", path]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return int.Parse(text.Trim());
    }

    static void HardLink(string target, string link)
    {
        using var p = System.Diagnostics.Process.Start("ln", [target, link])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    [Theory]
    [InlineData("hard")]
    [InlineData("symbolic")]
    public void Patching_a_linked_output_file_leaves_the_file_it_links_to_as_shipped(string kind)
    {
        // The build links package files from the NuGet cache into the output (Directory.Build.props);
        // weakening the output's copy must not write through the link into the cache.
        var cache = CopyOfPristineLibrary();
        var output = cache + ".out.so";
        try
        {
            if (kind == "hard") HardLink(cache, output);
            else File.CreateSymbolicLink(output, cache);
            var pristine = File.ReadAllBytes(cache);
            var log = ElfVersionNeeds.WeakenMissing(output, HostWithout(Missing));
            Assert.StartsWith("weakened GLIBCXX_3.4.32", Assert.Single(log));
            Assert.Equal(pristine, File.ReadAllBytes(cache));
            Assert.False(ElfVersionNeeds.ReadNeeds(cache).Single(n => n.Version == Missing).IsWeak);
            Assert.True(ElfVersionNeeds.ReadNeeds(output).Single(n => n.Version == Missing).IsWeak);
            Assert.Null(new FileInfo(output).LinkTarget);
            Assert.Equal(1, LinkCount(output));
            Assert.Equal(1, LinkCount(cache));
            Assert.False(File.Exists(output + ".ares-patch"));
        }
        finally
        {
            File.Delete(output);
            File.Delete(cache);
        }
    }

    [Fact]
    public void The_build_output_links_libtorch_from_the_package_cache_instead_of_copying_it()
    {
        // 461 MB in each of 19 output folders filled CI's disk; Directory.Build.props links CopyLocal files instead.
        var lib = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libtorch_cpu.so");
        Assert.True(File.Exists(lib), $"expected {lib}");
        Assert.True(new FileInfo(lib).LinkTarget != null || LinkCount(lib) > 1,
            $"{lib} is a private copy: CopyLocal linking (CreateHardLinksForCopyLocalIfPossible) is off");
    }

    [Fact]
    public void The_build_output_copy_loads_into_the_process()
    {
        // The real proof: with the build step applied, libtorch works on this host.
        using var t = torch.ones(3, 3).matmul(torch.ones(3, 3));
        Assert.Equal(3f, t[0, 0].item<float>());
    }
}
