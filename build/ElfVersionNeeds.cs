// Makes TorchSharp-cpu's native library loadable on hosts whose libstdc++ is older than the one it
// was linked against (Debian 12, Ubuntu 22.04: GLIBCXX_3.4.30 at most).
//
// libLibTorchSharp.so (TorchSharp-cpu 0.107.0) was linked by GCC 15 and records a version need on
// GLIBCXX_3.4.32. The only symbol bound to that version is `_ZSt21ios_base_library_initv`, a
// marker GCC 13+ emits so that <iostream> initialisation is pulled in; nothing calls it. The
// dynamic loader refuses the whole library for the missing version, and .NET reports the failure
// as a misleading "doesn't contain a reference to libtorch-cpu-linux-x64".
//
// The fix: in the copy in the build output (never the NuGet cache), set VER_FLG_WEAK on that
// Vernaux entry of .gnu.version_r. A weak version need that the host lacks is a warning to the
// loader, not an error. It is applied only when the host's libstdc++ lacks the version AND every
// symbol bound to it is a known marker; anything else is reported, not patched.
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory (build/Ares.Native.targets) for
// the build step, and into the tests (with ARES_ELF_TESTS defined) which prove it on real files.
// It therefore targets netstandard2.0-era C#: no spans, no records.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Ares.Build
{
    /// <summary>One version need (Vernaux) of an ELF shared object.</summary>
    public sealed class ElfVersionNeed
    {
        public string File = "";        // the needed library, e.g. libstdc++.so.6
        public string Version = "";     // e.g. GLIBCXX_3.4.32
        public ushort Flags;            // vna_flags; VER_FLG_WEAK = 0x2
        public ushort Index;            // vna_other: the version index symbols refer to
        public long FlagsOffset;        // file offset of vna_flags
        public List<string> Symbols = new List<string>(); // dynamic symbols bound to this index
        public bool IsWeak { get { return (Flags & ElfVersionNeeds.VerFlgWeak) != 0; } }
    }

    public static class ElfVersionNeeds
    {
        public const ushort VerFlgWeak = 0x2;
        const uint ShtDynsym = 11, ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;

        /// <summary>Symbols known to be link-time markers that are never called.</summary>
        public static readonly string[] MarkerSymbols = { "_ZSt21ios_base_library_initv" };

        sealed class Section { public uint Type; public long Offset; public long Size; public uint Link; public long EntSize; }

        sealed class Elf
        {
            public readonly byte[] Ident = new byte[16];
            public List<Section> Sections = new List<Section>();
        }

        /// <summary>True if the file starts with the 64-bit little-endian ELF magic.</summary>
        public static bool IsElf64Le(string path)
        {
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                var id = new byte[6];
                return fs.Read(id, 0, 6) == 6 && id[0] == 0x7f && id[1] == (byte)'E' && id[2] == (byte)'L' && id[3] == (byte)'F'
                    && id[4] == 2 && id[5] == 1;
            }
        }

        static Elf ReadHeaders(FileStream fs, string path)
        {
            var elf = new Elf();
            var header = ReadAt(fs, 0, 64, path);
            Array.Copy(header, elf.Ident, 16);
            if (header[0] != 0x7f || header[1] != 'E' || header[2] != 'L' || header[3] != 'F')
                throw new InvalidDataException(path + ": not an ELF file");
            if (header[4] != 2 || header[5] != 1)
                throw new InvalidDataException(path + ": only 64-bit little-endian ELF is supported");
            long shoff = (long)BitConverter.ToUInt64(header, 0x28);
            int shentsize = BitConverter.ToUInt16(header, 0x3A);
            int shnum = BitConverter.ToUInt16(header, 0x3C);
            if (shentsize < 64 || shnum > 65535 || shoff <= 0 || shoff + (long)shentsize * shnum > fs.Length)
                throw new InvalidDataException(path + ": section header table out of range");
            var table = ReadAt(fs, shoff, shentsize * shnum, path);
            for (int i = 0; i < shnum; i++)
            {
                int b = i * shentsize;
                var s = new Section
                {
                    Type = BitConverter.ToUInt32(table, b + 4),
                    Offset = (long)BitConverter.ToUInt64(table, b + 0x18),
                    Size = (long)BitConverter.ToUInt64(table, b + 0x20),
                    Link = BitConverter.ToUInt32(table, b + 0x28),
                    EntSize = (long)BitConverter.ToUInt64(table, b + 0x38),
                };
                if (s.Type != 8 /* NOBITS */ && (s.Offset < 0 || s.Size < 0 || s.Offset + s.Size > fs.Length))
                    throw new InvalidDataException(path + ": section " + i + " lies outside the file");
                elf.Sections.Add(s);
            }
            return elf;
        }

        static byte[] ReadAt(FileStream fs, long offset, long count, string path)
        {
            if (count < 0 || count > 256L * 1024 * 1024 || offset < 0 || offset + count > fs.Length)
                throw new InvalidDataException(path + ": read of " + count + " bytes at " + offset + " is out of range");
            var buf = new byte[count];
            fs.Seek(offset, SeekOrigin.Begin);
            int done = 0;
            while (done < count)
            {
                int n = fs.Read(buf, done, (int)count - done);
                if (n <= 0) throw new InvalidDataException(path + ": unexpected end of file");
                done += n;
            }
            return buf;
        }

        static string CString(byte[] strtab, long at)
        {
            if (at < 0 || at >= strtab.Length) return "";
            int end = (int)at;
            while (end < strtab.Length && strtab[end] != 0) end++;
            return Encoding.ASCII.GetString(strtab, (int)at, end - (int)at);
        }

        /// <summary>Lists the version needs of an ELF shared object, with the symbols bound to each.</summary>
        public static List<ElfVersionNeed> ReadNeeds(string path, bool withSymbols = true)
        {
            var needs = new List<ElfVersionNeed>();
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                var elf = ReadHeaders(fs, path);
                Section? verneed = elf.Sections.Find(s => s.Type == ShtGnuVerneed);
                if (verneed == null) return needs;
                var strSec = elf.Sections[(int)verneed.Link];
                var strtab = ReadAt(fs, strSec.Offset, strSec.Size, path);
                var data = ReadAt(fs, verneed.Offset, verneed.Size, path);
                long vn = 0;
                for (int guard = 0; guard < 4096 && vn + 16 <= data.Length; guard++)
                {
                    int cnt = BitConverter.ToUInt16(data, (int)vn + 2);
                    string file = CString(strtab, BitConverter.ToUInt32(data, (int)vn + 4));
                    long aux = vn + BitConverter.ToUInt32(data, (int)vn + 8);
                    for (int j = 0; j < cnt && aux + 16 <= data.Length; j++)
                    {
                        needs.Add(new ElfVersionNeed
                        {
                            File = file,
                            Flags = BitConverter.ToUInt16(data, (int)aux + 4),
                            Index = BitConverter.ToUInt16(data, (int)aux + 6),
                            Version = CString(strtab, BitConverter.ToUInt32(data, (int)aux + 8)),
                            FlagsOffset = verneed.Offset + aux + 4,
                        });
                        uint nextAux = BitConverter.ToUInt32(data, (int)aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = BitConverter.ToUInt32(data, (int)vn + 12);
                    if (next == 0) break;
                    vn += next;
                }
                if (withSymbols) AttachSymbols(fs, elf, needs, path);
            }
            return needs;
        }

        static void AttachSymbols(FileStream fs, Elf elf, List<ElfVersionNeed> needs, string path)
        {
            Section? dynsym = elf.Sections.Find(s => s.Type == ShtDynsym);
            Section? versym = elf.Sections.Find(s => s.Type == ShtGnuVersym);
            if (dynsym == null || versym == null || dynsym.EntSize < 24) return;
            var syms = ReadAt(fs, dynsym.Offset, dynsym.Size, path);
            var strSec = elf.Sections[(int)dynsym.Link];
            var strtab = ReadAt(fs, strSec.Offset, strSec.Size, path);
            var vers = ReadAt(fs, versym.Offset, versym.Size, path);
            long count = Math.Min(syms.Length / dynsym.EntSize, vers.Length / 2);
            var byIndex = new Dictionary<int, ElfVersionNeed>();
            foreach (var n in needs) byIndex[n.Index] = n;
            for (long i = 0; i < count; i++)
            {
                int v = BitConverter.ToUInt16(vers, (int)(i * 2)) & 0x7fff;
                ElfVersionNeed? need;
                if (byIndex.TryGetValue(v, out need))
                    need!.Symbols.Add(CString(strtab, BitConverter.ToUInt32(syms, (int)(i * dynsym.EntSize))));
            }
        }

        /// <summary>Version names an ELF shared object defines (.gnu.version_d), e.g. GLIBCXX_3.4.30.</summary>
        public static HashSet<string> ReadDefinedVersions(string path)
        {
            var result = new HashSet<string>(StringComparer.Ordinal);
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                var elf = ReadHeaders(fs, path);
                Section? verdef = elf.Sections.Find(s => s.Type == ShtGnuVerdef);
                if (verdef == null) return result;
                var strSec = elf.Sections[(int)verdef.Link];
                var strtab = ReadAt(fs, strSec.Offset, strSec.Size, path);
                var data = ReadAt(fs, verdef.Offset, verdef.Size, path);
                long vd = 0;
                for (int guard = 0; guard < 4096 && vd + 20 <= data.Length; guard++)
                {
                    long aux = vd + BitConverter.ToUInt32(data, (int)vd + 12);
                    if (aux + 8 <= data.Length) result.Add(CString(strtab, BitConverter.ToUInt32(data, (int)aux)));
                    uint next = BitConverter.ToUInt32(data, (int)vd + 16);
                    if (next == 0) break;
                    vd += next;
                }
            }
            return result;
        }

        /// <summary>The host's libstdc++.so.6, or null where there is none (macOS, Windows, musl without it).</summary>
        public static string? FindHostLibStdCxx()
        {
            string[] dirs =
            {
                "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
                "/usr/lib64", "/lib64", "/usr/lib", "/lib",
            };
            foreach (var d in dirs)
            {
                var p = Path.Combine(d, "libstdc++.so.6");
                if (File.Exists(p)) return p;
            }
            return null;
        }

        /// <summary>
        /// Marks weak every libstdc++ version need of <paramref name="path"/> that the host library
        /// (<paramref name="hostDefined"/>) lacks and whose symbols are all known markers. Returns
        /// what it did, one line per need, for the build log; needs it cannot safely weaken are
        /// reported with "cannot" and left as they are.
        /// </summary>
        public static List<string> WeakenMissing(string path, HashSet<string> hostDefined)
        {
            var log = new List<string>();
            // Symbols are read only when something is missing: big libraries (libtorch_cpu) stay cheap.
            Func<ElfVersionNeed, bool> missing = n => n.File.StartsWith("libstdc++", StringComparison.Ordinal) && !hostDefined.Contains(n.Version) && !n.IsWeak;
            if (!ReadNeeds(path, withSymbols: false).Exists(n => missing(n))) return log;
            var needs = ReadNeeds(path);
            var toPatch = new List<ElfVersionNeed>();
            foreach (var n in needs)
            {
                if (!missing(n)) continue;
                bool onlyMarkers = true;
                foreach (var s in n.Symbols) if (Array.IndexOf(MarkerSymbols, s) < 0) onlyMarkers = false;
                if (!onlyMarkers)
                {
                    log.Add("cannot weaken " + n.Version + " in " + path + ": it binds real symbols (" + string.Join(", ", n.Symbols) + "); the host's libstdc++ is too old for this library");
                    continue;
                }
                toPatch.Add(n);
            }
            if (toPatch.Count == 0) return log;
            // The output's copy may be a hard or symbolic link into the NuGet cache (CopyLocal links, see
            // Directory.Build.props): patch a private copy and rename it over the link, so the cache stays as shipped.
            string temp = path + ".ares-patch";
            File.Copy(path, temp, overwrite: true);
            try
            {
                using (var fs = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                {
                    foreach (var n in toPatch)
                    {
                        ushort flags = (ushort)(n.Flags | VerFlgWeak);
                        fs.Seek(n.FlagsOffset, SeekOrigin.Begin);
                        fs.Write(BitConverter.GetBytes(flags), 0, 2);
                        log.Add("weakened " + n.Version + " (" + string.Join(", ", n.Symbols) + ") in " + path);
                    }
                }
                File.Replace(temp, path, null); // a rename: replaces the link itself (netstandard2.0 has no Move overwrite)
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            return log;
        }
    }

#if !ARES_ELF_TESTS
    /// <summary>MSBuild task: weakens missing libstdc++ version needs in the output's ELF libraries.</summary>
    public class WeakenGlibcxxVersionNeeds : Microsoft.Build.Utilities.Task
    {
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = new Microsoft.Build.Framework.ITaskItem[0];

        public override bool Execute()
        {
            if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux)) return true;
            var host = ElfVersionNeeds.FindHostLibStdCxx();
            if (host == null) return true;
            HashSet<string> defined;
            try { defined = ElfVersionNeeds.ReadDefinedVersions(host); }
            catch (Exception e) { Log.LogWarning("Ares: could not read " + host + ": " + e.Message); return true; }
            foreach (var item in Files)
            {
                var path = item.ItemSpec;
                try
                {
                    if (!File.Exists(path) || !ElfVersionNeeds.IsElf64Le(path)) continue;
                    foreach (var line in ElfVersionNeeds.WeakenMissing(path, defined))
                    {
                        if (line.StartsWith("cannot", StringComparison.Ordinal)) Log.LogWarning("Ares: " + line);
                        else Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, "Ares: " + line);
                    }
                }
                catch (Exception e) { Log.LogWarning("Ares: could not inspect " + path + ": " + e.Message); }
            }
            return true;
        }
    }
#endif
}
