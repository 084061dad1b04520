-- Which process ran each job, so a run left `running` by a process that died (SIGKILL, power
-- loss) can be recognised and marked `interrupted` at the next start. Status values now:
-- running | succeeded | failed | interrupted.
ALTER TABLE runs ADD COLUMN pid INTEGER;
ALTER TABLE runs ADD COLUMN host VARCHAR;
