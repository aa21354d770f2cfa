; Inno Setup script for LobbyHost on Windows (Inno Setup 6).
; Build the bundle first on a Windows machine:
;   py -3.11 -m venv .venv && .venv\Scripts\pip install -e .[installer]
;   .venv\Scripts\python resources\installer\build.py
; then compile this script (from the repository root):
;   iscc /DAppVersion=0.1.0 resources\installer\windows\lobbyhost.iss
; It makes dist\lobbyhost-<version>-setup.exe.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6E1F1B1C-6A0B-4E3B-9C9B-2F1C8B0A7D11}
AppName=LobbyHost
AppVersion={#AppVersion}
AppPublisher=LobbyHost developers
DefaultDirName={autopf}\LobbyHost
DefaultGroupName=LobbyHost
OutputDir=..\..\..\dist
OutputBaseFilename=lobbyhost-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
WizardStyle=modern
UninstallDisplayIcon={app}\lobbyhost.exe

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"
; The embedded signalling server listens on TCP 8765 for LAN guests.
Name: "firewall"; Description: "Let guests on the local network reach the lobby (Windows Firewall rule for TCP 8765)"

[Files]
Source: "..\..\..\dist\lobbyhost\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\LobbyHost"; Filename: "{app}\lobbyhost.exe"
Name: "{group}\LobbyHost self-test"; Filename: "{app}\lobbyhost.exe"; Parameters: "--self-test"
Name: "{autodesktop}\LobbyHost"; Filename: "{app}\lobbyhost.exe"; Tasks: desktopicon

[Run]
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall add rule name=""LobbyHost"" dir=in action=allow protocol=TCP localport=8765 program=""{app}\lobbyhost.exe"""; Flags: runhidden; Tasks: firewall
Filename: "{app}\lobbyhost.exe"; Description: "Start LobbyHost"; Flags: nowait postinstall skipifsilent

[UninstallRun]
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall delete rule name=""LobbyHost"""; Flags: runhidden; RunOnceId: "LobbyHostFirewall"
