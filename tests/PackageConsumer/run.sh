#!/usr/bin/env bash
# Pack-and-consume test (issue 16): packs the three src/ packages into a folder feed, builds an app outside the
# repository that references only PagedAttention.AI, with the README's C# snippet as its Program.cs, and runs it from
# another working directory on the package's default model. Expects a Release build of src/ (CI builds the solution
# first); pass --build to build here.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pa-consumer-XXXXXX")"
trap 'rm -rf "$work"' EXIT
build_flag=--no-build
[ "${1:-}" = "--build" ] && build_flag=
start=$SECONDS

for p in Kernels Text AI; do
  dotnet pack "$repo/src/PagedAttention.$p" -c Release $build_flag -o "$work/app/feed" -v q -nologo
done
version="$(ls "$work/app/feed" | sed -n 's/^PagedAttention\.AI\.\([0-9].*\)\.nupkg$/\1/p')"
[ -n "$version" ] || { echo "run.sh: PagedAttention.AI package not found in the feed" >&2; exit 1; }

# The package carries what issue 16 asks: the default model, the targets that copy it, the README, the XML docs.
unzip -l "$work/app/feed/PagedAttention.AI.$version.nupkg" > "$work/listing.txt"
for f in defaultmodel/model.safetensors defaultmodel/tokenizer.json defaultmodel/config.json \
         buildTransitive/PagedAttention.AI.targets README.md lib/net10.0/PagedAttention.AI.xml; do
  grep -q " $f\$" "$work/listing.txt" || { echo "run.sh: $f missing from the package" >&2; exit 1; }
done

# The README's snippet, verbatim, is the program; the package README must carry the same snippet.
extract() { awk '/^```csharp$/{on=1; next} /^```$/{if(on){exit}} on' "$1"; }
extract "$repo/README.md" > "$work/app/Program.cs"
[ -s "$work/app/Program.cs" ] || { echo "run.sh: no C# snippet in README.md" >&2; exit 1; }
if ! diff -u "$work/app/Program.cs" <(extract "$repo/src/PagedAttention.AI/README.md"); then
  echo "run.sh: the package README's snippet differs from README.md's" >&2; exit 1
fi
cp "$repo/tests/PackageConsumer/PackageConsumer.csproj" "$repo/tests/PackageConsumer/NuGet.config" "$work/app/"

# A packages folder of its own, so an earlier package of the same version is never reused; the user's global
# folder serves the dependencies as a fallback, so nothing is downloaded twice.
global="$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')"
dotnet restore "$work/app" --packages "$work/packages" -p:PagedAttentionVersion="$version" -p:RestoreFallbackFolders="$global" -v q
dotnet build "$work/app" -c Release --no-restore -p:PagedAttentionVersion="$version" -v q -nologo -o "$work/out"
[ -f "$work/out/PagedAttention.DefaultModel/model.safetensors" ] || { echo "run.sh: the default model was not copied to the output" >&2; exit 1; }

# From an unrelated working directory: the default model is found next to the app, not in the working directory.
mkdir -p "$work/elsewhere"
output="$(cd "$work/elsewhere" && dotnet "$work/out/PackageConsumer.dll")"
echo "$output"
cached="$(echo "$output" | sed -n 's/^\([0-9]*\) of \([0-9]*\) prompt tokens came from the prefix cache$/\1/p')"
[ -n "$cached" ] && [ "$cached" -gt 0 ] || { echo "run.sh: expected a positive count of cached prompt tokens" >&2; exit 1; }
echo "package consumer: PagedAttention.AI $version packed, restored, built and run in $((SECONDS - start)) s"
