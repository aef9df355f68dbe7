# shellcheck shell=bash
# Everything the rig scripts share. Sourcing has no side effects beyond definitions.
_rig_lib=$(dirname -- "${BASH_SOURCE[0]}")
# shellcheck source=common.sh
source "$_rig_lib/common.sh"
# shellcheck source=setup.sh
source "$_rig_lib/setup.sh"
# shellcheck source=sshd.sh
source "$_rig_lib/sshd.sh"
# shellcheck source=postgres.sh
source "$_rig_lib/postgres.sh"
# shellcheck source=app.sh
source "$_rig_lib/app.sh"
# shellcheck source=nginx.sh
source "$_rig_lib/nginx.sh"
# shellcheck source=outputs.sh
source "$_rig_lib/outputs.sh"
# shellcheck source=stop.sh
source "$_rig_lib/stop.sh"
unset _rig_lib
